"""The scrub on a serving agent: on request (`POST /site/verify`), every `verify_interval_s`, after an unclean stop
and when `pa-agent verify` found damage; throttled; progress and result as events; repair or alert at the end.

Throttling: each step (a batch of rows or one chunk) runs in a worker thread on a connection of its own, in a short
snapshot, and the scrub sleeps between steps so that it reads at most `verify_rate_mb_s` on average. The event loop
(API, probes, the sync) gets the GIL back between steps; SQLite's write-ahead log lets writers go on meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sqlite3
import time
import uuid
from collections.abc import Generator
from typing import Any

from pa_console.agent.alerts import mail_admin
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.scrub import from_backup, repair
from pa_console.agent.scrub.check import StoreCheck, open_for_verify
from pa_console.agent.scrub.damage import Damage
from pa_console.protocol.models import EventType, Role
from pa_console.protocol.verify import (
    FINDINGS_SHOWN,
    VerifyProgress,
    VerifyReport,
    VerifyStarted,
    VerifyStartResult,
    VerifyState,
    VerifyStatus,
)

log = logging.getLogger(__name__)

SERVING_KEY = "verify_serving"  # True while an agent serves; still True at start-up means it stopped uncleanly
REQUESTED_KEY = "verify_requested"  # set by `pa-agent verify` when it found damage
LAST_KEY = "verify_last"
SINCE_KEY = "verify_since"  # when the schedule started counting (first start), for a store never scrubbed
_PROGRESS_EVERY_S = 1.0
_CHECK_EVERY_S = 5.0
_NO_BACKUP = "This appliance has no backup to restore damaged items from."


class ScrubService:
    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._unclean = False
        self.progress: VerifyProgress | None = None

    # -- service ------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        local = self.runtime.local
        self._unclean = bool(await asyncio.to_thread(local.get, SERVING_KEY, False))
        await asyncio.to_thread(local.set, SERVING_KEY, True)
        if await asyncio.to_thread(local.get, SINCE_KEY) is None:
            await asyncio.to_thread(local.set, SINCE_KEY, dt.datetime.now(dt.UTC).isoformat())
        self.runtime.settings_listeners.append(self._wake_up)
        self._loop_task = self.runtime.spawn(self._loop(), "scrub-scheduler")

    async def stop(self) -> None:
        if self._wake_up in self.runtime.settings_listeners:
            self.runtime.settings_listeners.remove(self._wake_up)
        for task in (self._loop_task, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await asyncio.to_thread(self.runtime.local.set, SERVING_KEY, False)

    def _wake_up(self) -> None:
        loop = self.runtime.bus._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._wake.set)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def state(self) -> VerifyState:
        raw = self.runtime.local.get(LAST_KEY)
        return VerifyState(running=self.progress if self.running else None,
                           last=VerifyReport.model_validate(raw) if raw else None)

    def start_scrub(self, trigger: str) -> VerifyStartResult:
        """Start a scrub now, or answer with the one that is running."""
        if self.running and self.progress is not None:
            return VerifyStartResult(id=self.progress.id, started=False,
                                     detail="A scrub is already running; watch its progress in the events.")
        scrub_id = uuid.uuid4().hex[:12]
        self.progress = VerifyProgress(id=scrub_id, phase="structure")
        self._task = self.runtime.spawn(self._scrub(scrub_id, trigger), f"scrub-{scrub_id}")
        return VerifyStartResult(id=scrub_id, started=True,
                                 detail="Scrub started; progress and result follow as verify_* events.")

    # -- schedule -----------------------------------------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                trigger = await asyncio.to_thread(self._due)
                if trigger is not None and not self.running:
                    self.start_scrub(trigger)
            except Exception:
                log.exception("scrub schedule check failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=_CHECK_EVERY_S)

    def _due(self) -> str | None:
        rt = self.runtime
        if self._unclean:
            self._unclean = False
            return "unclean stop"
        if rt.local.get(REQUESTED_KEY):
            rt.local.delete(REQUESTED_KEY)
            return "requested by pa-agent verify"
        interval = rt.settings.verify_interval_s
        if not interval:
            return None
        last = rt.local.get(LAST_KEY)
        since = (last or {}).get("finished_at") or rt.local.get(SINCE_KEY)
        if since is None:
            return None
        elapsed = (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(since)).total_seconds()
        return "schedule" if elapsed >= interval else None

    # -- one scrub ----------------------------------------------------------------------------------------------
    async def _scrub(self, scrub_id: str, trigger: str) -> None:
        rt = self.runtime
        started = dt.datetime.now(dt.UTC)
        t0 = time.monotonic()
        report = VerifyReport(id=scrub_id, trigger=trigger, status=VerifyStatus.RUNNING, started_at=started)
        check: StoreCheck | None = None
        try:
            conn = await asyncio.to_thread(open_for_verify, rt.db.path)
            check = StoreCheck(conn, whole_file=False)
            steps = _Steps(conn, check.steps())
            try:
                await self._drive(scrub_id, trigger, check, steps, t0)
            finally:
                steps.close()
            report.status = VerifyStatus.DAMAGED if check.damaged_count else VerifyStatus.WHOLE
        except asyncio.CancelledError:
            # The agent stops: say so, so that no one waits for this scrub (no result is kept; the schedule goes on).
            self.progress = None
            report.status = VerifyStatus.FAILED
            report.error = "The agent stopped during the scrub; it runs again at the next schedule or request."
            report.finished_at = dt.datetime.now(dt.UTC)
            rt.bus.publish(EventType.VERIFY_FINISHED, **report.model_dump(mode="json"))
            raise
        except sqlite3.Error as exc:
            report.status = VerifyStatus.FAILED
            report.error = f"The scrub could not read the store ({exc}); it runs again at the next schedule."
        except Exception as exc:
            log.exception("scrub failed")
            report.status = VerifyStatus.FAILED
            report.error = f"The scrub failed unexpectedly ({type(exc).__name__}); see the agent log."
        if check is not None:
            report.rows_checked = check.counts.rows_done
            report.recordings_checked = check.counts.recordings_done
            report.bytes_checked = check.counts.bytes_done
            report.damaged_count = check.damaged_count
            report.damaged = check.findings[:FINDINGS_SHOWN]
        report.finished_at = dt.datetime.now(dt.UTC)
        report.duration_s = round(time.monotonic() - t0, 3)
        if check is not None and report.status != VerifyStatus.FAILED:
            try:
                await self._conclude(report, check)
            except Exception as exc:  # the result is still told, with why nothing was done about it
                log.exception("acting on the scrub's findings failed")
                report.error = f"The findings could not be acted on ({type(exc).__name__}); see the agent log."
        await asyncio.to_thread(rt.local.set, LAST_KEY, report.model_dump(mode="json"))
        self.progress = None
        rt.bus.publish(EventType.VERIFY_FINISHED, **report.model_dump(mode="json"))

    async def _drive(self, scrub_id: str, trigger: str, check: StoreCheck, steps: _Steps, t0: float) -> None:
        rt = self.runtime
        done_bytes = 0
        last_progress, last_fraction = 0.0, -1.0
        first = True
        while True:
            nbytes = await steps.next()
            if nbytes is None:
                break
            if first:
                first = False
                rt.bus.publish(EventType.VERIFY_STARTED, **VerifyStarted(
                    id=scrub_id, trigger=trigger, rows_total=check.counts.rows_total,
                    bytes_total=check.counts.bytes_total).model_dump(mode="json"))
            done_bytes += nbytes
            elapsed = time.monotonic() - t0
            self.progress = VerifyProgress(
                id=scrub_id, phase=check.phase, rows_done=check.counts.rows_done, rows_total=check.counts.rows_total,
                bytes_done=check.counts.bytes_done, bytes_total=check.counts.bytes_total,
                damaged=check.damaged_count, rate_bps=round(done_bytes / elapsed if elapsed > 0 else 0.0))
            # About once a second for a watcher, but a long scrub must not flood the kept event log: at most a
            # hundred or so per scrub (one per percent, or every half minute when it crawls).
            since = time.monotonic() - last_progress
            fraction = _fraction(check)
            if since >= _PROGRESS_EVERY_S and (fraction - last_fraction >= 0.01 or since >= 30):
                last_progress, last_fraction = time.monotonic(), fraction
                rt.bus.publish(EventType.VERIFY_PROGRESS, **self.progress.model_dump(mode="json"))
            # Cap the average read rate (the setting is read each step, so a change applies at once).
            ahead = done_bytes / (rt.settings.verify_rate_mb_s * 1e6) - (time.monotonic() - t0)
            await asyncio.sleep(max(0.0, ahead))

    async def _conclude(self, report: VerifyReport, check: StoreCheck) -> None:
        """Keep the findings (the digest leaves damaged items out); a backup prepares their repair, a primary
        tells the administrator."""
        rt = self.runtime
        backup = rt.role == Role.BACKUP and rt.relationship is not None
        damage = Damage.from_findings(check.findings, refetch=backup)
        engine = rt.sync_engine
        lock = getattr(engine, "lock", None)
        # The repair changes what a sync works on (chunks, the sync position): never while one runs.
        async with lock if isinstance(lock, asyncio.Lock) else contextlib.nullcontext():
            await asyncio.to_thread(_record, rt, damage, backup)
        if not check.damaged_count:
            return
        unrepairable = any(f.kind in ("store", "digest") for f in check.findings)
        if backup:
            report.repair = "refetch"
            if rt.settings.sync_enabled and rt.sync_scheduler is not None:
                rt.sync_scheduler.sync_now()
        else:
            await self._restore_from_backup(report, damage)
        if not backup or unrepairable:
            rt.spawn(mail_admin(rt, _mail_subject(report), _mail_body(rt.name, report, backup),
                                "verify_damaged"), "mail-verify-damaged")

    async def _restore_from_backup(self, report: VerifyReport, damage: Damage) -> None:
        """A primary in a relationship asks its backup for a good copy of each damaged item (scrub/from_backup.py)."""
        if self.runtime.relationship is None or not (damage.rows or damage.recordings):
            report.repair = "told"
            report.repair_detail = _NO_BACKUP
            return
        done = await from_backup.restore(self.runtime, damage)
        report.repaired_count = done.count
        report.repair = "from_backup" if done.count else "told"
        report.repair_detail = _restored_sentence(done)
        log.warning("scrub: %s", report.repair_detail)


def _fraction(check: StoreCheck) -> float:
    c = check.counts
    total = c.rows_total + c.bytes_total
    return (c.rows_done + c.bytes_done) / total if total else 0.0


def _record(rt: AgentRuntime, damage: Damage, refetch: bool) -> None:
    conn = rt.db.connect()
    repair.record(conn, damage, refetch)


def _restored_sentence(done: from_backup.Restored) -> str:
    parts = [f"{done.count} damaged item(s) restored from the backup, each checked against its recorded hash"]
    if done.not_held:
        parts.append(f"{done.not_held} left damaged")
    text = "; ".join(parts)
    if done.failure:
        return f"{text}; the backup could not be asked: {done.failure}"
    if done.not_held:
        return f"{text}: the backup holds no copy that matches (it never synchronised them, or they changed)."
    return f"{text}."


def _mail_subject(report: VerifyReport) -> str:
    if report.repaired_count and report.repaired_count >= report.damaged_count:
        return "Damaged site data found and restored from the backup"
    return "Damaged site data found"


def _mail_body(name: str, report: VerifyReport, backup: bool) -> str:
    lines = [f"A scrub of {name}'s site data ({report.trigger}) found {report.damaged_count} damaged item(s): their "
             "bytes on disk no longer match the hashes recorded when they were written.", ""]
    lines += [f"- {f.kind} {f.id or ''}: {f.problem}".replace("  ", " ") for f in report.damaged]
    if report.damaged_count > len(report.damaged):
        lines.append(f"- and {report.damaged_count - len(report.damaged)} more (pa-agent verify DATA_DIR lists all)")
    lines.append("")
    if backup:
        lines.append("This backup fetches damaged data again from its primary at its next sync, but SQLite's own "
                     "structure is damaged too: check the disk and consider re-establishing the pair.")
    else:
        if report.repair_detail:
            lines += [report.repair_detail, ""]
        if report.repaired_count and report.repaired_count >= report.damaged_count:
            lines.append("The data is whole again, but a disk that changes bytes will do it again: check it "
                         "(SMART, kernel log).")
        elif report.repair_detail == _NO_BACKUP:
            lines.append("This appliance holds the only copy: check the disk (SMART, kernel log).")
        else:
            lines.append("What is left damaged has no good copy on the backup: check the disk (SMART, kernel log), "
                         "and plan a failover to the backup if the disk is failing.")
    return "\n".join(lines)


class _Steps:
    """Runs a generator's steps in worker threads, one at a time. Cancelled mid-step, it lets the step finish in
    its thread and only then closes the generator and the connection (never from under a running step)."""

    def __init__(self, conn: sqlite3.Connection, gen: Generator[int, None, None]) -> None:
        self._conn = conn
        self._gen = gen
        self._step: asyncio.Future[Any] | None = None

    async def next(self) -> int | None:
        self._step = asyncio.ensure_future(asyncio.to_thread(next, self._gen, None))
        result: int | None = await asyncio.shield(self._step)
        return result

    def close(self) -> None:
        if self._step is not None and not self._step.done():
            self._step.add_done_callback(lambda _: self._close())
        else:
            self._close()

    def _close(self) -> None:
        if self._step is not None and self._step.done() and not self._step.cancelled():
            self._step.exception()  # retrieved: a step that failed after a cancel has no one to tell
        self._gen.close()
        self._conn.close()
