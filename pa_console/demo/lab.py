"""Starts and stops the demo lab: everything a new user needs to watch a failover on one machine."""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pa_console.demo.mailsink import MailSink, free_port

log = logging.getLogger(__name__)

SHARED_ADDRESS = "127.77.0.1"
_PR_SET_PDEATHSIG = 1


@dataclass
class DemoAppliance:
    name: str
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    token: str = ""
    cert_pem: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def agent_command() -> list[str]:
    """The agent program: a sibling executable inside the bundle, else this Python's module."""
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).with_name("pa-agent"))]
    return [sys.executable, "-m", "pa_console.agent"]


def _die_with_parent() -> None:
    # Linux: the agents get SIGTERM if the console dies, so no demo process outlives it.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


class DemoLab:
    def __init__(self, sessions: int = 300, recording_bytes: int = 700_000, base: Path | None = None) -> None:
        self.base = base or Path(tempfile.mkdtemp(prefix="pa-console-demo-"))
        self._own_base = base is None
        self.sessions = sessions
        self.recording_bytes = recording_bytes
        self.mail = MailSink()
        self.primary = DemoAppliance("appliance-a", self.base / "appliance-a")
        self.backup = DemoAppliance("appliance-b", self.base / "appliance-b")
        self.shared_port = free_port(SHARED_ADDRESS) if sys.platform.startswith("linux") else free_port()

    # -- processes ------------------------------------------------------------------------------------------------
    def _cli(self, *args: str) -> str:
        proc = subprocess.run([*agent_command(), *args], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"pa-agent {args[0]} failed: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc.stdout

    def _init(self, appliance: DemoAppliance, key_file: Path) -> None:
        self._cli("init", str(appliance.data_dir), "--name", appliance.name, "--key-file", str(key_file))
        info = json.loads(self._cli("info", str(appliance.data_dir), "--json"))
        appliance.token = info["api_token"]
        appliance.cert_pem = Path(info["cert_path"]).read_text()

    def _serve(self, appliance: DemoAppliance) -> None:
        listen = appliance.data_dir / "listen.json"
        listen.unlink(missing_ok=True)
        out = open(appliance.data_dir / "serve.out", "ab")
        appliance.proc = subprocess.Popen(
            [*agent_command(), "serve", str(appliance.data_dir), "--listen", f"{appliance.host}:{appliance.port}"],
            stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent if os.name == "posix" else None)
        out.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if appliance.proc.poll() is not None:
                raise RuntimeError(f"{appliance.name} stopped at start; see {appliance.data_dir / 'serve.out'}")
            if listen.exists():
                doc = json.loads(listen.read_text())
                if doc.get("pid") == appliance.proc.pid:
                    appliance.port = int(doc["listen"].rsplit(":", 1)[1])
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{appliance.name} did not start in 30 s")

    def _client(self, appliance: DemoAppliance) -> httpx.Client:
        from pa_console.protocol.tls_pin import pinned_context

        ctx = pinned_context(appliance.cert_pem)
        return httpx.Client(base_url=f"https://{appliance.host}:{appliance.port}", verify=ctx, timeout=30,
                            headers={"Authorization": f"Bearer {appliance.token}"})

    def _call(self, appliance: DemoAppliance, method: str, path: str, body: Any = None) -> Any:
        with self._client(appliance) as client:
            r = client.request(method, "/api/v1" + path, json=body)
        if r.status_code >= 400:
            raise RuntimeError(f"{appliance.name}: {r.json().get('detail', r.text)}")
        return r.json()

    # -- the lab -----------------------------------------------------------------------------------------------
    def start_blocking(self, step: Callable[[str], None] = lambda _: None) -> None:
        step("Starting the mail sink")
        self.mail.start()
        key_file = self.base / "inter-appliance.key"
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        step("Creating two appliances with the same Inter-Appliance key")
        for appliance in (self.primary, self.backup):
            self._init(appliance, key_file)
        key_file.unlink()
        step(f"Seeding {self.sessions} sessions with recordings on {self.primary.name}")
        self._cli("seed", str(self.primary.data_dir), "--sessions", str(self.sessions),
                  "--recording-bytes", str(self.recording_bytes))
        step("Starting both agents")
        for appliance in (self.primary, self.backup):
            self._serve(appliance)
        step("Configuring mail and failover")
        self._call(self.primary, "PUT", "/email", {
            "host": "127.0.0.1", "port": self.mail.port, "security": "none", "sender": "pa-demo@example.com",
            "recipients": ["admin@example.com"]})
        shared = {"driver": "loopback", "address": SHARED_ADDRESS, "port": self.shared_port}
        self._call(self.primary, "PUT", "/failover/settings", {"shared_address": shared, "no_pull_alert_s": 600})
        self._call(self.backup, "PUT", "/failover/settings", {
            "shared_address": shared, "auto_failover": True, "primary_timeout_s": 20, "pull_interval_s": 60,
            "first_sync_delay_s": 8, "probe_interval_s": 1})
        step("Establishing the failover relationship")
        self._call(self.primary, "POST", "/failover/relationship", {
            "backup": {"host": self.backup.host, "port": self.backup.port},
            "reverse": {"host": self.primary.host, "port": self.primary.port}})

    async def start(self, step: Callable[[str], None] = lambda _: None) -> None:
        await asyncio.to_thread(self.start_blocking, step)

    def stop_appliance(self, appliance: DemoAppliance) -> None:
        """As a power cut would: SIGKILL, no goodbye."""
        if appliance.proc is not None and appliance.proc.poll() is None:
            appliance.proc.kill()
            appliance.proc.wait(10)

    async def stop_primary(self) -> None:
        await asyncio.to_thread(self.stop_appliance, self.primary)

    async def start_appliance(self, appliance: DemoAppliance) -> None:
        await asyncio.to_thread(self._serve, appliance)

    def close(self) -> None:
        for appliance in (self.primary, self.backup):
            if appliance.proc is not None and appliance.proc.poll() is None:
                appliance.proc.terminate()
                try:
                    appliance.proc.wait(10)
                except subprocess.TimeoutExpired:
                    appliance.proc.kill()
                    appliance.proc.wait(5)
        try:
            self.mail.stop()
        except Exception as exc:
            log.info("mail sink stop: %r", exc)
        if self._own_base:
            shutil.rmtree(self.base, ignore_errors=True)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)
