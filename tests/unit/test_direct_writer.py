"""The recordings' writer past the page cache (sync/direct_writer.py), on real files: bytes land in order and whole
(aligned units direct, the tail buffered), and an error stops it without ever blocking the caller."""

from __future__ import annotations

import fcntl
import os
import random
from pathlib import Path

import pytest

from pa_console.agent.sync.direct_writer import _BUFFERS, UNIT, DirectWriter, open_direct


def test_units_and_tail_land_in_order_and_whole(tmp_path: Path) -> None:
    content = random.Random(1).randbytes(3 * UNIT + 12345)
    fd, direct = open_direct(tmp_path / "f", os.O_WRONLY | os.O_CREAT)
    # Here (/tmp on ext4) the file is direct; a file system that refuses O_DIRECT gets the same bytes buffered.
    assert bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT) == direct
    writer = DirectWriter()
    try:
        for offset in range(0, len(content), UNIT):
            buf = writer.buffer()
            piece = content[offset:offset + UNIT]
            buf[:len(piece)] = piece
            writer.write(fd, buf, len(piece), offset)
        writer.then(lambda: os.close(fd))
        writer.drain()
    finally:
        writer.close()
    assert (tmp_path / "f").read_bytes() == content


def test_an_error_is_raised_at_the_next_call_and_never_blocks(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    fd = os.open(tmp_path / "f", os.O_RDONLY)  # writes fail with EBADF
    writer = DirectWriter()
    ran: list[str] = []
    try:
        with pytest.raises(OSError):
            for _ in range(_BUFFERS * 3):  # more than the pool holds: the failed writes still give buffers back
                buf = writer.buffer()
                writer.write(fd, buf, UNIT, 0)
            writer.drain()
        with pytest.raises(OSError):
            writer.then(lambda: ran.append("settle"))  # nothing is settled after an error
        writer.close()
        assert ran == []
    finally:
        os.close(fd)
