"""A reference reader of the /peer/blobs stream (frames written by feed.BlobFeed), piece by piece as it arrives: the
tests check the feed with it (the backup itself reads the stream with sync/blob_pull.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from pa_console.agent.sync.feed import FRAME_HEADER


@dataclass
class Frame:
    recording_id: str
    index: int
    size: int
    head_bytes: int  # the length prefix and the header
    gone: bool = False
    pieces: list[memoryview] = field(default_factory=list)

    @property
    def wire_bytes(self) -> int:
        return self.head_bytes + self.size


class FrameError(Exception):
    """The stream does not hold frames (it is not a /peer/blobs stream of this version)."""


class FrameParser:
    """Feed it what the network delivers; it returns the frames that became complete."""

    def __init__(self) -> None:
        self._small = bytearray()  # a length prefix or a header, while it is incomplete
        self._head_len = -1  # the header's length once its prefix is known
        self._frame: Frame | None = None  # the frame whose content is arriving
        self._left = 0

    @property
    def mid_frame(self) -> bool:
        return bool(self._small) or self._head_len >= 0 or self._frame is not None

    def feed(self, data: bytes) -> list[Frame]:
        done: list[Frame] = []
        view = memoryview(data)
        pos, end = 0, len(view)
        while pos < end:
            if self._frame is not None:
                take = min(self._left, end - pos)
                self._frame.pieces.append(view[pos:pos + take])
                pos += take
                self._left -= take
                if not self._left:
                    done.append(self._frame)
                    self._frame = None
                continue
            want = FRAME_HEADER.size if self._head_len < 0 else self._head_len
            take = min(want - len(self._small), end - pos)
            self._small += view[pos:pos + take]
            pos += take
            if len(self._small) < want:
                continue
            if self._head_len < 0:
                (self._head_len,) = FRAME_HEADER.unpack(self._small)
                self._small.clear()
                if self._head_len > 4096:
                    raise FrameError(f"a frame header of {self._head_len} bytes")
                continue
            frame = self._header(bytes(self._small))
            self._small.clear()
            self._head_len = -1
            if frame.size and not frame.gone:
                self._frame, self._left = frame, frame.size
            else:
                done.append(frame)
        return done

    def _header(self, raw: bytes) -> Frame:
        try:
            head = orjson.loads(raw)
            if int(head["n"]) < 0:
                raise ValueError(head["n"])
            return Frame(str(head["r"]), int(head["i"]), int(head["n"]), FRAME_HEADER.size + len(raw),
                         gone=bool(head.get("gone")))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise FrameError("a frame header that could not be read") from exc
