"""A primary/backup pair of real agents with a loopback shared address and a real SMTP sink, for failover tests."""

from __future__ import annotations

import json
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.harness import RunningAgent, SmtpSink, free_port, wait_until
from tests.integration.sync.pair import KEY, configure, establish, sync_now

_next_address = [20]


def new_shared_address() -> dict[str, Any]:
    """A loopback shared address of its own per test, so that a test's leftovers never answer for the next."""
    _next_address[0] += 1
    address = f"127.0.0.{_next_address[0]}"
    return {"driver": "loopback", "address": address, "port": free_port(address)}


@dataclass
class Pair:
    primary: RunningAgent
    backup: RunningAgent
    shared: dict[str, Any]
    smtp: SmtpSink

    def site(self, timeout: float = 2) -> dict[str, Any] | None:
        """GET the site at the shared address (trusting either appliance's certificate); None if nobody answers."""
        ctx = ssl.create_default_context(cadata=self.primary.cert_pem + self.backup.cert_pem)
        ctx.check_hostname = False
        try:
            r = httpx.get(f"https://{self.shared['address']}:{self.shared['port']}/site", verify=ctx,
                          timeout=timeout)
        except httpx.TransportError:
            return None
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def wait_site(self, name: str, timeout: float = 15) -> float:
        """Wait until the site answers with that appliance's name; returns the monotonic time it did."""
        wait_until(lambda: (self.site() or {}).get("name") == name, timeout=timeout, interval=0.1,
                   what=f"the shared address to answer {name}")
        return time.monotonic()

    def mails(self) -> list[str]:
        return self.smtp.subjects()


def make_pair(agents: Callable[..., RunningAgent], smtp: SmtpSink, backup_email: dict[str, Any] | None = None,
              synced: bool = True, **settings: Any) -> Pair:
    """With `synced` (the default) the backup completes a first sync, so it holds a complete copy and may take
    over automatically (issue 13: a backup without one never does)."""
    primary, backup = agents("alpha", key_hex=KEY), agents("beta", key_hex=KEY)
    shared = new_shared_address()
    values = {"primary_timeout_s": 5, "probe_interval_s": 0.5, "auto_failover": True, "shared_address": shared,
              "first_sync_delay_s": 3600} | settings
    for agent in (primary, backup):
        configure(agent, **values)
        # Set before the relationship: a backup then takes its email configuration from the primary's syncs.
        email = backup_email if agent is backup and backup_email is not None else smtp.config()
        r = agent.request("PUT", "/api/v1/email", json=email)
        assert r.status_code == 200, r.text
    establish(primary, backup)
    if synced:
        assert sync_now(backup)["status"] == "ok"
        health = backup.health()
        assert health["copy_complete"] is True
        # Said to people: the time of the copy as they read it (not ISO 8601 with microseconds).
        assert re.search(r"\(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)\.$", health["copy_detail"]), health["copy_detail"]
    pair = Pair(primary, backup, shared, smtp)
    pair.wait_site("alpha")
    wait_until(lambda: backup.health()["primary_reachable"] is True, timeout=10, what="the backup to see its primary")
    return pair


def events(agent: RunningAgent, after: int = 0) -> list[dict[str, Any]]:
    """The agent's kept events after a number (history only, not followed)."""
    out: list[dict[str, Any]] = []
    with agent.client(timeout=10) as c:
        r = c.get("/api/v1/events", params={"after": after, "follow": "false"})
        assert r.status_code == 200
        for line in r.text.splitlines():
            if line.startswith("data: "):
                out.append(json.loads(line[6:]))
    return out


def of_type(evs: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [e for e in evs if e["type"] == type_]


def roles(*agents: RunningAgent) -> list[str | None]:
    """Each agent's role, None for one that does not answer."""
    result: list[str | None] = []
    for agent in agents:
        try:
            result.append(agent.health()["role"])
        except (httpx.TransportError, AssertionError):
            result.append(None)
    return result


class PrimaryWatch:
    """Polls both appliances' health in the background and records every moment both said 'primary'."""

    def __init__(self, *agents: RunningAgent) -> None:
        import threading

        self.agents = agents
        self.both_primary: list[float] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        """Reads are one after the other, so "A primary, then B primary" may just be a swap between the two reads.
        Each round therefore brackets one appliance's read between two reads of the other (alternating which), and
        counts two primaries only when the bracketing one said primary before and after the other said it too."""
        clients = [agent.client(timeout=2) for agent in self.agents]  # kept open: many samples a second

        def role(client: httpx.Client) -> str | None:
            try:
                value: str = client.get("/api/v1/failover/health").json()["role"]
                return value
            except (httpx.TransportError, ValueError, KeyError):
                return None

        try:
            outer, inner = clients[0], clients[1]
            while not self._stop.is_set():
                before, middle, after = role(outer), role(inner), role(outer)
                if before == middle == after == "primary":
                    self.both_primary.append(time.monotonic())
                self.samples += 1
                outer, inner = inner, outer
                time.sleep(0.02)
        finally:
            for client in clients:
                client.close()

    def __enter__(self) -> PrimaryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
