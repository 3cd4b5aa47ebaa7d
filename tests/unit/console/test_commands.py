"""The commands service (issue 15, point 5): each operation's busy state, error and result, without Qt."""

from __future__ import annotations

import asyncio
from typing import Any

from pa_console.console.client.errors import AgentError, ErrorCategory
from pa_console.console.services.commands import ApplianceCommands, Operation
from pa_console.console.state.appliance import ApplianceState
from pa_console.protocol.models import GeneratedKey, KeyFingerprint, RoleRequest, RoleResult, SyncStartResult

from .factories import pair


class _Client:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gate = asyncio.Event()
        self.fail: dict[str, AgentError] = {}

    async def _call(self, name: str, answer: Any) -> Any:
        self.calls.append(name)
        await self.gate.wait()
        if name in self.fail:
            raise self.fail[name]
        return answer

    async def sync_now(self) -> SyncStartResult:
        return await self._call("sync_now", SyncStartResult(started=False, detail="A sync is already running."))

    async def set_role(self, request: RoleRequest) -> RoleResult:
        return await self._call("set_role", RoleResult(role="primary", epoch=3, detail="beta is now the primary."))

    async def generate_key(self) -> GeneratedKey:
        return await self._call("generate_key", GeneratedKey(key="k" * 64, fingerprint="ab" * 32))

    async def set_key(self, key: str) -> None:
        await self._call("set_key", None)

    async def key_fingerprint(self) -> KeyFingerprint:
        return await self._call("key_fingerprint", KeyFingerprint(fingerprint="ab" * 32))


class _Fleet:
    def __init__(self, *states: ApplianceState) -> None:
        self.states = {s.id: s for s in states}
        self.clients = {s.id: _Client() for s in states}
        self.refreshed: list[tuple[str, ...]] = []

    def client(self, appliance_id: str) -> Any:
        return self.clients[appliance_id]

    def peer_of(self, appliance_id: str) -> ApplianceState | None:
        return next((s for i, s in self.states.items() if i != appliance_id), None)

    def state(self, appliance_id: str) -> ApplianceState:
        return self.states[appliance_id]

    async def refresh(self, *appliance_ids: str) -> None:
        self.refreshed.append(appliance_ids)


def test_an_operation_is_busy_while_it_runs_then_tells_its_result_or_error() -> None:
    primary, backup = pair()
    fleet = _Fleet(primary, backup)
    commands = ApplianceCommands(fleet, backup.id)
    seen: list[tuple[bool, str | None, str | None]] = []
    commands.role.changed.connect(lambda op: seen.append((op.busy, op.error, op.result)))

    async def scenario() -> None:
        task = asyncio.create_task(commands.set_role(RoleRequest(role="primary")))
        await asyncio.sleep(0)
        assert commands.role.busy
        assert await commands.set_role(RoleRequest(role="primary")) is None  # never started twice
        fleet.clients[backup.id].gate.set()
        await task
        fleet.clients[backup.id].fail["set_role"] = AgentError(ErrorCategory.REQUEST, "The primary refused.")
        await commands.set_role(RoleRequest(role="primary", force=True))

    asyncio.run(scenario())
    assert fleet.clients[backup.id].calls == ["set_role", "set_role"]
    assert seen[:3] == [(True, None, None), (False, None, None), (False, None, "beta is now the primary.")]
    assert seen[-1] == (False, "The primary refused.", None) and not commands.role.busy
    assert fleet.refreshed == [(backup.id, primary.id)] * 2  # both appliances re-read after a role change


def test_sync_not_started_is_an_error_and_key_rotation_spans_both_appliances() -> None:
    primary, backup = pair()
    fleet = _Fleet(primary, backup)
    for client in fleet.clients.values():
        client.gate.set()
    commands = ApplianceCommands(fleet, primary.id)
    asyncio.run(commands.sync_now())
    assert commands.sync.error == "A sync is already running."
    fleet.clients[backup.id].fail["set_key"] = AgentError(ErrorCategory.REQUEST, "key too short")
    assert asyncio.run(commands.rotate_keys(backup.id)) is False
    assert commands.keys.error == "The new key was made on alpha but beta refused it: key too short"
    del fleet.clients[backup.id].fail["set_key"]
    assert asyncio.run(commands.rotate_keys(backup.id)) is True
    assert commands.keys.result == "alpha and beta now hold the same new key." and commands.keys.error is None
    assert primary.key_fingerprint == backup.key_fingerprint == "ab" * 32
    assert isinstance(commands.keys, Operation) and not commands.keys.busy
