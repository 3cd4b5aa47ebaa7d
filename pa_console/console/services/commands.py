"""The console's operations on appliances, out of the views (issue 15, point 5): Qt-free, each with its busy
state, error and result as observable state (napari's way); the views ask for confirmation and bind to these.

One `ApplianceCommands` per appliance (`Fleet.commands(id)`), so two views of the same appliance (the Failover pane
and a dialog) see the same busy state, and an operation is never started twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from pa_console.console.client.agent_client import AgentClient
from pa_console.console.client.errors import AgentError
from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.observable import Signal
from pa_console.protocol.models import (
    EmailConfig,
    EmailConfigUpdate,
    EmailTestResult,
    Endpoint,
    FailoverSettings,
    FailoverSettingsUpdate,
    RelationshipInfo,
    RoleRequest,
    RoleResult,
    SiteDigest,
)

T = TypeVar("T")


class FleetLike(Protocol):
    """What the commands need of the Fleet."""

    def client(self, appliance_id: str) -> AgentClient: ...

    def peer_of(self, appliance_id: str) -> ApplianceState | None: ...

    def state(self, appliance_id: str) -> ApplianceState: ...

    async def refresh(self, *appliance_ids: str) -> None: ...


class Operation:
    """One kind of operation on one appliance: busy while it runs, then its result or its error (in words)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.busy = False
        self.error: str | None = None
        self.error_field: str | None = None  # the field an agent's error names, when it names one
        self.failure: AgentError | None = None  # the whole error, for views that place it by field or category
        self.result: str | None = None
        self.changed: Signal[Operation] = Signal()

    def clear(self) -> None:
        self.error = self.error_field = self.result = None
        self.failure = None
        self.changed.emit(self)

    async def run(self, work: Callable[[], Awaitable[T]], describe: Callable[[T], str] = lambda _r: "") -> T | None:
        """Run `work` unless already busy; busy is reset in `finally`, whatever happens."""
        if self.busy:
            return None
        self.busy, self.error, self.error_field, self.result, self.failure = True, None, None, None, None
        self.changed.emit(self)
        try:
            value = await work()
        except AgentError as exc:
            self.error, self.error_field, self.failure = exc.message, exc.field, exc
            return None
        finally:
            self.busy = False
            self.changed.emit(self)
        self.result = describe(value) or None
        self.changed.emit(self)
        return value


class ApplianceCommands:
    """Sync, role changes, key rotation across both appliances, break, settings: for one appliance."""

    def __init__(self, fleet: FleetLike, appliance_id: str) -> None:
        self._fleet = fleet
        self.appliance_id = appliance_id
        self.sync = Operation("sync")
        self.role = Operation("role")
        self.keys = Operation("keys")
        self.breaking = Operation("break")
        self.settings = Operation("settings")
        self.email = Operation("email")
        self.establishing = Operation("establish")

    def _peer_ids(self) -> list[str]:
        peer = self._fleet.peer_of(self.appliance_id)
        return [self.appliance_id, *([peer.id] if peer is not None else [])]

    async def sync_now(self) -> None:
        result = await self.sync.run(lambda: self._fleet.client(self.appliance_id).sync_now())
        if result is not None and not result.started:  # e.g. a sync is already running: said as an error
            self.sync.error = result.detail
            self.sync.changed.emit(self.sync)

    async def set_role(self, request: RoleRequest) -> RoleResult | None:
        """Become primary or backup (planned, with a last sync, or forced); both appliances re-read after."""
        if self.role.busy:
            return None
        result = await self.role.run(lambda: self._fleet.client(self.appliance_id).set_role(request),
                                     lambda r: r.detail)
        await self._fleet.refresh(*self._peer_ids())
        return result

    async def break_relationship(self) -> str | None:
        if self.breaking.busy:
            return None
        ids = self._peer_ids()
        detail = await self.breaking.run(lambda: self._fleet.client(self.appliance_id).break_relationship(),
                                         lambda d: d)
        if detail is not None:
            self._fleet.state(self.appliance_id).clear_failover()
        await self._fleet.refresh(*ids)
        return detail

    async def apply_settings(self, body: FailoverSettingsUpdate) -> FailoverSettings | None:
        saved = await self.settings.run(lambda: self._fleet.client(self.appliance_id).update_failover_settings(body),
                                        lambda _s: "Applied.")
        if saved is not None:
            self._fleet.state(self.appliance_id).set_settings(saved)
        return saved

    async def rotate_keys(self, other_id: str) -> bool:
        """A new key made here and set on `other_id` through the API; the key itself is kept nowhere."""
        here, there = self._fleet.state(self.appliance_id), self._fleet.state(other_id)

        async def work() -> str:
            generated = await self._fleet.client(here.id).generate_key()
            here.set_key_fingerprint(generated.fingerprint)
            try:
                await self._fleet.client(there.id).set_key(generated.key)
            except AgentError as exc:
                raise AgentError(exc.category, f"The new key was made on {here.name} but {there.name} refused it: "
                                 f"{exc.message}") from exc
            finally:
                del generated
            fp = await self._fleet.client(there.id).key_fingerprint()
            there.set_key_fingerprint(fp.fingerprint)
            return f"{here.name} and {there.name} now hold the same new key."

        return await self.keys.run(work, lambda text: text) is not None

    async def site_digest(self) -> SiteDigest | None:
        """What this appliance holds (for the break warning); None when it cannot be read now."""
        try:
            return await self._fleet.client(self.appliance_id).site_digest()
        except AgentError:
            return None

    async def save_email(self, body: EmailConfigUpdate) -> EmailConfig | None:
        saved = await self.email.run(lambda: self._fleet.client(self.appliance_id).update_email(body),
                                     lambda _c: "Saved.")
        if saved is not None:
            self._fleet.state(self.appliance_id).set_email(saved)
        return saved

    async def send_test_email(self) -> EmailTestResult | None:
        return await self.email.run(lambda: self._fleet.client(self.appliance_id).send_test_email())

    async def establish(self, backup: Endpoint, reverse: Endpoint, backup_id: str | None,
                        auto_failover: bool) -> tuple[bool, str | None]:
        """Establish from this (the primary) to `backup`; then, if asked and the console knows the backup, turn on
        its automatic failover. Returns whether it was established and, if the second step failed, why."""
        established = False

        async def work() -> RelationshipInfo:
            nonlocal established
            info = await self._fleet.client(self.appliance_id).establish(backup, reverse)
            established = True
            return info

        await self.establishing.run(work)
        if not established:
            return False, None
        problem: str | None = None
        if backup_id is not None and auto_failover:
            try:
                saved = await self._fleet.client(backup_id).update_failover_settings(
                    FailoverSettingsUpdate(auto_failover=True))
                self._fleet.state(backup_id).set_settings(saved)
            except AgentError as exc:
                problem = (f"The relationship is established, but automatic failover could not be turned on at "
                           f"{self._fleet.state(backup_id).name}: {exc.message}")
        await self._fleet.refresh(self.appliance_id, *([backup_id] if backup_id else []))
        return True, problem
