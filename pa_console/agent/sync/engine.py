"""The backup's sync engine: pull what changed, stage it, fetch recordings, apply atomically, verify."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson

from pa_console.agent.failover.authority import fence_of
from pa_console.agent.peer.client import PeerClient, PeerError
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.store.db import open_connection
from pa_console.agent.store.local import set_in
from pa_console.agent.store.rows import KINDS
from pa_console.agent.sync import staging
from pa_console.agent.sync.blob_pull import BlobPull, Peer, PullFailed
from pa_console.agent.sync.disk import (
    check_room,
    free_bytes,
    free_partial,
    full_copy_needs,
    full_disk_sentence,
    human,
    is_disk_full,
)
from pa_console.agent.sync.feed import FORMAT, FRAME_HEADER
from pa_console.agent.sync.pipeline import WriteBehind
from pa_console.agent.sync.progress import ProgressTracker
from pa_console.agent.sync.recording_files import ContentError, PartialFiles
from pa_console.protocol.events import SyncFailed as SyncFailedEvent
from pa_console.protocol.events import SyncFinished, SyncProgressed, SyncStarted
from pa_console.protocol.models import Role, SyncProgress, SyncReport, SyncStatus

log = logging.getLogger(__name__)

_BLOB_BATCH_ITEMS = 2000
_MAX_FRAME_BYTES = 64 * 1024 * 1024  # a page of 5000 rows is ~1 MB as JSON or as a database image
_QUEUE_DEPTH = 4  # batches in flight between network and disk: bounds memory to ~20 MiB


class SyncFailed(Exception):
    pass


@contextlib.contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Parsing a million rows makes millions of short-lived lists, and the cycle collector, triggered by their
    number, traversed them again and again: ~25 % of the backup's CPU in the rows phase (measured: 3.8 -> 2.9 s for
    300k rows). Pages hold no cycles, so collection waits until the phase is over (one phase of one sync)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class SyncEngine:
    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self._lock = asyncio.Lock()
        self._conn: sqlite3.Connection | None = None
        self._current: asyncio.Task[Any] | None = None
        self._cancelled_by: str | None = None
        self._needed_bytes: int | None = None

    @property
    def running(self) -> bool:
        return self._lock.locked()

    @property
    def lock(self) -> asyncio.Lock:
        """Held while a sync runs; the scrub's repair (which drops chunks and the sync position) takes it too."""
        return self._lock

    def _db(self) -> sqlite3.Connection:
        # One connection for the engine's own thread work (used by one thread at a time, under the lock).
        if self._conn is None:
            self._conn = open_connection(self.runtime.db.path)
            # A full copy's indexes are built by sorting; the sorter may use up to 8 MB before it spills to temporary
            # files (default 2 MB). Only this connection gets it, so the agent's memory stays bounded (< 150 MB).
            self._conn.execute("PRAGMA cache_size=-8192")
        return self._conn

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, self._db(), *args)

    async def run_once(self, trigger: str = "scheduled") -> SyncReport:
        async with self._lock:
            self._current = asyncio.current_task()
            try:
                return await self._sync(trigger)
            finally:
                self._current = None

    async def cancel(self, why: str) -> None:
        """Stop the sync in flight (a takeover: nothing more is pulled from the old primary) and wait for it."""
        task = self._current
        if task is None or task.done():
            return
        self._cancelled_by = why
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            # Bounded: the apply, if it is already running in its thread, finishes or aborts on the role check.
            await asyncio.wait_for(asyncio.shield(asyncio.gather(task, return_exceptions=True)), 10)

    async def _sync(self, trigger: str) -> SyncReport:
        rt = self.runtime
        started = dt.datetime.now(dt.UTC)
        t0 = time.monotonic()
        report: dict[str, Any] = {"status": SyncStatus.RUNNING, "started_at": started, "rows_moved": 0,
                                  "bytes_moved": 0}
        tracker = ProgressTracker(self._publish_progress)
        rt.sync_progress = tracker.progress
        rt.bus.publish(SyncStarted(trigger=trigger))
        self._cancelled_by = None
        self._needed_bytes = None
        epoch = rt.epoch
        try:
            if rt.role != Role.BACKUP or rt.relationship is None:
                raise SyncFailed("This appliance is not a backup in a failover relationship.")
            fenced = await asyncio.to_thread(fence_of, rt)
            if fenced is not None:
                raise SyncFailed(fenced.sentence())
            client = PeerClient.for_runtime(rt)
            with cycle_collection_paused():
                header = await self._pull_rows(client, tracker, report)
            await self._pull_recordings(client, tracker, report)
            tracker.phase("applying")
            released = await self._run(staging.files_the_apply_may_release)
            applied = await self._run(staging.apply, header["digest"], report, epoch)
            tracker.close_phase()
            await self._collect(released)
            report.update(status=SyncStatus.OK, digest_ok=True, primary_digest=header["digest"],
                          rows_applied=applied, phases_s=tracker.phases_s, primary_store=header["store_id"],
                          primary_seq=header["upto"])
        except staging.RoleChanged as exc:
            report.update(status=SyncStatus.FAILED, error=str(exc))
        except staging.IntegrityError as exc:
            await self._run(staging.forget_position)
            report.update(status=SyncStatus.FAILED, digest_ok=False, error=f"Integrity check failed: {exc}.")
        except (PeerError, SyncFailed) as exc:
            report.update(status=SyncStatus.FAILED, error=str(exc))
        except asyncio.CancelledError:
            why = self._cancelled_by or "the agent is stopping"
            report.update(status=SyncStatus.FAILED, error=f"The sync was interrupted ({why}); nothing of it was "
                                                          "applied, and the next sync continues where it stopped.")
            self._finish(report, t0)
            raise
        except Exception as exc:
            root = rt.identity.data_dir.root
            if is_disk_full(exc, root):
                free = await asyncio.to_thread(free_bytes, root)
                try:
                    await self._run(free_partial)
                except Exception as cleanup:  # the report names the full disk either way
                    log.warning("could not free what the failed sync had staged: %r", cleanup)
                report.update(status=SyncStatus.FAILED, error=full_disk_sentence(root, self._needed_bytes, free)
                              + " What this sync had staged was removed (the next sync fetches it again); the "
                                "backup keeps its previous copy.")
                return self._finish(report, t0)
            log.exception("sync failed (%s)", getattr(exc, "sqlite_errorname", type(exc).__name__))
            report.update(status=SyncStatus.FAILED, error=f"The sync failed unexpectedly ({type(exc).__name__}); "
                                                          "see the agent log. The backup keeps its previous copy.")
        return self._finish(report, t0)

    async def _collect(self, released: list[str] | None) -> None:
        """Files of recordings the apply removed (deleted on the primary, or replaced by a full copy) go: those it
        may have released after an incremental copy (`released`), any unused one after a full copy (None)."""
        try:
            if released is None:
                await self._run(self.runtime.db.blobs.collect)
            elif released:
                await self._run(self.runtime.db.blobs.collect, 0.0, released)
        except (OSError, sqlite3.Error) as exc:  # collected at the next sync or start
            log.warning("could not remove unused recording files: %r", exc)

    def _finish(self, report: dict[str, Any], t0: float) -> SyncReport:
        rt = self.runtime
        report["finished_at"] = dt.datetime.now(dt.UTC)
        report["duration_s"] = round(time.monotonic() - t0, 3)
        result = SyncReport.model_validate({k: v for k, v in report.items() if k in SyncReport.model_fields})
        dumped = result.model_dump(mode="json")
        with rt.db.write() as conn:
            set_in(conn, "last_sync", dumped)
            if result.status == SyncStatus.OK:
                set_in(conn, "last_sync_ok_at", dumped["finished_at"])
        rt.sync_progress = None
        ok = result.status == SyncStatus.OK
        rt.bus.publish(SyncFinished(**dumped) if ok else SyncFailedEvent(**dumped))
        rt.spawn(self._tell_primary(dumped), "report-sync")
        return result

    async def _tell_primary(self, report: dict[str, Any]) -> None:
        try:
            await PeerClient.for_runtime(self.runtime).request("POST", "/peer/pulled", json=report, timeout=5)
        except PeerError as exc:
            log.info("could not report the sync to the primary: %s", exc)

    def _publish_progress(self, progress: SyncProgress) -> None:
        self.runtime.sync_progress = progress
        self.runtime.bus.publish(SyncProgressed(**progress.model_dump()))

    async def _pull_rows(self, client: PeerClient, tracker: ProgressTracker, report: dict[str, Any]) -> dict[str, Any]:
        store, seq, stg = await self._run(staging.sync_position)
        params = {"format": str(FORMAT), "since": str(seq), "store": store,
                  "resume": orjson.dumps(stg["resume"] if stg else {}).decode(),
                  "resume_store": stg["store_id"] if stg else "", "resume_base": str(stg["base"] if stg else -1)}
        header: dict[str, Any] = {}
        async with client.stream("GET", "/peer/changes", params=params) as content:
            header = await self._read_message(content, report)
            if header.get("format") != FORMAT:
                raise SyncFailed("The primary runs another pa-agent version than this backup; run the same "
                                 "version on both appliances.")
            report["resumed"] = bool(header["resume_used"])
            await self._check_room(header)
            await self._run(staging.begin, header)
            tracker.phase("rows", rows_total=sum(header["counts"].values()))

            root, db_path, conn = self.runtime.identity.data_dir.root, self.runtime.db.path, self._db()

            def stage(item: tuple[str, list[list[Any]] | bytes, int]) -> None:  # in the writer's own thread
                check_room(root, db_path, 0)
                # A page of rows arrives as a small database image; it is checked and copied in the writer's thread.
                kind, rows, last = item
                if isinstance(rows, bytes):
                    staging.stage_image(conn, kind, rows, last)
                else:
                    staging.stage_page(conn, kind, rows, last)

            writer: WriteBehind[tuple[str, list[list[Any]] | bytes, int]] = WriteBehind(stage, _QUEUE_DEPTH,
                                                                                        "stage-rows")
            try:
                while True:
                    page = await self._read_message(content, report)
                    kind = page["k"]
                    if kind == "end":
                        break
                    if kind in KINDS and "image" in page:
                        image = await self._read_frame(content, report)
                        await writer.put((kind, image, page["last"]))
                        moved = int(page["n"])
                    elif kind in KINDS or kind == "tombstones":
                        await writer.put((kind, page["rows"], page["last"]))
                        moved = len(page["rows"])
                    else:
                        raise SyncFailed(f"The primary sent data of a kind this backup does not know "
                                         f"({str(kind)[:40]!r}); run the same version on both appliances.")
                    report["rows_moved"] += moved
                    tracker.add(rows=moved)
            except BaseException:
                # Keep what arrived (the next sync resumes from it), but let the first error speak.
                with contextlib.suppress(Exception):
                    await writer.close()
                raise
            await writer.close()
        return header

    async def _check_room(self, header: dict[str, Any]) -> None:
        """A full copy that cannot fit is refused before anything is staged (a copy half made fills the disk)."""
        store_bytes = int(header.get("store_bytes") or 0)
        if not header.get("full") or not store_bytes:
            return
        root = self.runtime.identity.data_dir.root
        self._needed_bytes = full_copy_needs(store_bytes)
        free = await asyncio.to_thread(free_bytes, root)
        if free < self._needed_bytes:
            raise SyncFailed(f"The full copy of the primary's data does not fit: it needs about "
                             f"{human(self._needed_bytes)} and the data folder {root} has {human(free)} free. "
                             "Free space there or give it a larger disk; nothing was copied.")

    @staticmethod
    async def _read_frame(content: aiohttp.StreamReader, report: dict[str, Any]) -> bytes:
        try:
            (size,) = FRAME_HEADER.unpack(await content.readexactly(FRAME_HEADER.size))
            if size > _MAX_FRAME_BYTES:
                raise SyncFailed(f"The primary sent a message of {size} bytes, more than a page can hold; run the "
                                 "same version on both appliances.")
            raw = await content.readexactly(size)
        except asyncio.IncompleteReadError as exc:
            raise SyncFailed("The primary's change stream ended early; the next sync continues from what "
                             "arrived.") from exc
        report["bytes_moved"] += size + FRAME_HEADER.size
        return raw

    @classmethod
    async def _read_message(cls, content: aiohttp.StreamReader, report: dict[str, Any]) -> dict[str, Any]:
        doc: dict[str, Any] = orjson.loads(await cls._read_frame(content, report))
        return doc

    async def _pull_recordings(self, client: PeerClient, tracker: ProgressTracker, report: dict[str, Any]) -> None:
        needed = await self._run(staging.needed_recordings)
        self._needed_bytes = max(self._needed_bytes or 0, sum(n.missing_bytes for n in needed))
        tracker.phase("recordings", bytes_total=tracker.progress.bytes_done + sum(n.missing_bytes for n in needed))
        for start in range(0, len(needed), _BLOB_BATCH_ITEMS):
            batch = needed[start:start + _BLOB_BATCH_ITEMS]
            files = PartialFiles(self.runtime.db.blobs, batch)
            try:
                await self._pull_blob_batch(client, batch, files, tracker, report)
                await asyncio.to_thread(files.finish)
            finally:
                await asyncio.to_thread(files.close)
            if files.damaged:
                raise SyncFailed(f"Recording {files.damaged[0]} arrived damaged (its SHA-256 does not match); it will "
                                 "be fetched again at the next sync.")
        # The apply commits rows that reference files already in place: every one must be here by now.
        left = await self._run(staging.needed_recordings)
        if left:
            raise SyncFailed(f"Recording {left[0].id} did not arrive whole; the next sync fetches it again.")

    async def _pull_blob_batch(self, client: PeerClient, batch: list[staging.NeededRecording],
                               files: PartialFiles, tracker: ProgressTracker, report: dict[str, Any]) -> None:
        """One request for the batch, read on a pinned TLS socket of its own in a worker thread, straight into the
        recordings' partial files (sync/blob_pull.py); the event loop only gets progress, a few times a second."""
        items = [[n.id, n.have_chunks] for n in batch]
        frames = sum(n.chunks - n.have_chunks for n in batch)
        root, db_path = self.runtime.identity.data_dir.root, self.runtime.db.path
        loop = asyncio.get_running_loop()

        def pulled(content: int, wire: int) -> None:
            report["bytes_moved"] += wire
            tracker.add(nbytes=content)

        def progress(content: int, wire: int) -> None:
            loop.call_soon_threadsafe(pulled, content, wire)

        def room(upcoming: int) -> None:
            check_room(root, db_path, upcoming)

        peer = Peer(client.host, client.port, client.api_prefix + "/peer/blobs", client.ssl_context, client.token,
                    client.what)
        pull = BlobPull(peer, items, frames, files, progress, room)
        running = loop.run_in_executor(None, pull.run)
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            pull.abort()  # the thread stops at its next read; what it wrote stays (resumable)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(running), 10)
            raise
        except PullFailed as exc:
            if exc.status is not None:
                raise PeerError(str(exc), exc.status) from exc
            raise SyncFailed(str(exc)) from exc
        except ContentError as exc:
            raise SyncFailed(f"The primary's recording stream could not be stored ({exc}); the next sync "
                             "continues from what arrived.") from exc
        finally:
            await asyncio.sleep(0)  # progress the thread scheduled is counted before the report is made
