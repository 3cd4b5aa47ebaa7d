"""Role and epoch are answered to a peer as one committed pair, never half before and half after a role change.

Read one after the other, a fence committing in between made an old primary answer "primary at the new epoch"; the
real primary, hearing "primary" at its own epoch, broke the tie by fingerprint and could step down (seen once in
the paused-primary fault test: the pair was left with no primary)."""

from __future__ import annotations

import threading
from pathlib import Path

from pa_console.agent.failover import authority
from pa_console.agent.identity import create_identity
from pa_console.agent.paths import DataDir
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.store.db import Database
from pa_console.protocol.models import Role


def test_role_and_epoch_are_read_as_one_committed_pair(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path / "agent")
    identity = create_identity(data_dir, "unit", None, [])
    db = Database(data_dir.db)
    runtime = AgentRuntime(identity, db)
    # Primary at even epochs, backup at odd ones: every committed pair satisfies this, a torn read need not.
    with db.write() as conn:
        authority._set_role_in(conn, Role.PRIMARY, 0)
    stop = threading.Event()

    def flip() -> None:
        epoch = 0
        while not stop.is_set():
            epoch += 1
            with db.write() as conn:
                authority._set_role_in(conn, Role.BACKUP if epoch % 2 else Role.PRIMARY, epoch)

    writer = threading.Thread(target=flip)
    writer.start()
    seen = set()
    try:
        for _ in range(20_000):
            role, epoch = runtime.role_epoch()
            seen.add(epoch)
            assert role == (Role.BACKUP if epoch % 2 else Role.PRIMARY), (role, epoch)
    finally:
        stop.set()
        writer.join()
        db.close()
    assert len(seen) > 10, "the writer hardly ran: the test proved nothing"
