"""Real `pa-agent` processes and a real SMTP server on loopback, for the integration tests (and the console's)."""

from __future__ import annotations

import asyncio
import atexit
import email
import email.policy
import json
import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

REPO = Path(__file__).resolve().parent.parent
# Every agent process started here, so that none outlives the test run (even when a test forgot, or failed).
_STARTED: list[subprocess.Popen[bytes]] = []


@atexit.register
def _kill_leftovers() -> None:
    for proc in _STARTED:
        if proc.poll() is None:
            proc.kill()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def pinned_context(cert_pem: str) -> ssl.SSLContext:
    """Trust exactly this one certificate (names are not checked: the pin is the whole certificate)."""
    ctx = ssl.create_default_context(cadata=cert_pem)
    ctx.check_hostname = False
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # the certificate is CA:FALSE: it is its own anchor
    return ctx


def run_cli(*args: str, check: bool = True, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "pa_console.agent", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"pa-agent {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def _limit_files(n: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))

    return apply


@dataclass
class RunningAgent:
    data_dir: Path
    name: str
    host: str = "127.0.0.1"
    port: int = 0
    token: str = ""
    cert_pem: str = ""
    fingerprint: str = ""
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    nofile: int | None = None  # RLIMIT_NOFILE (soft and hard) of the agent process, as `ulimit -n` would set it

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def load_identity(self) -> None:
        info = json.loads(run_cli("info", str(self.data_dir), "--json").stdout)
        self.token = info["api_token"]
        self.fingerprint = info["fingerprint_sha256"]
        self.cert_pem = Path(info["cert_path"]).read_text()

    def start(self, timeout: float = 20) -> RunningAgent:
        log = open(self.data_dir / "serve.out", "ab")
        listen_file = self.data_dir / "listen.json"
        listen_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pa_console.agent", "serve", str(self.data_dir),
             "--listen", f"{self.host}:{self.port}"],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, **self.extra_env},
            preexec_fn=None if self.nofile is None else _limit_files(self.nofile))
        log.close()
        _STARTED.append(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"agent {self.name} exited with {self.proc.returncode}:\n{self.output()}")
            if listen_file.exists():
                doc = json.loads(listen_file.read_text())
                if doc.get("pid") == self.proc.pid:
                    self.port = int(doc["listen"].rsplit(":", 1)[1])
                    try:
                        with self.client(timeout=2) as c:
                            if c.get("/api/v1/failover/health").status_code == 200:
                                return self
                    except httpx.TransportError:
                        pass
            time.sleep(0.05)
        raise AssertionError(f"agent {self.name} did not start in {timeout}s:\n{self.output()}")

    def output(self) -> str:
        path = self.data_dir / "serve.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self, timeout: float = 30, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=pinned_context(self.cert_pem), timeout=timeout,
                            headers={"Authorization": f"Bearer {token if token is not None else self.token}"})

    def get(self, path: str, **kw: Any) -> Any:
        with self.client() as c:
            r = c.get(path, **kw)
            assert r.status_code == 200, (r.status_code, r.text)
            return r.json()

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        with self.client() as c:
            return c.request(method, path, **kw)

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/api/v1/failover/health")
        return result

    def digest(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/api/v1/site/digest")
        return result

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a power cut would leave it."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 20) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)
        return int(self.proc.returncode)

    def restart(self) -> RunningAgent:
        if self.proc and self.proc.poll() is None:
            self.terminate()
        return self.start()

    def seed(self, sessions: int, recording_bytes: int = 0) -> None:
        run_cli("seed", str(self.data_dir), "--sessions", str(sessions), "--recording-bytes", str(recording_bytes),
                timeout=600)


def init_agent(base: Path, name: str, key_file: Path | None = None) -> RunningAgent:
    data_dir = base / name
    args = ["init", str(data_dir), "--name", name]
    if key_file is not None:
        args += ["--key-file", str(key_file)]
    run_cli(*args)
    agent = RunningAgent(data_dir=data_dir, name=name)
    agent.load_identity()
    return agent


def start_agent(base: Path, name: str, key_hex: str | None = None) -> RunningAgent:
    """Init and serve one agent on 127.0.0.1 (a free port); key_hex sets its Inter-Appliance key."""
    key_file = None
    if key_hex is not None:
        key_file = base / f"{name}.key"
        key_file.write_text(key_hex)
    return init_agent(base, name, key_file).start()


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        return part.get_content() if part is not None else ""


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port,
                                      # A plain loop of its own: under qasync the default policy would make a Qt one.
                                      loop=asyncio.SelectorEventLoop())

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def config(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "security": "none", "username": "", "password": "",
                "sender": "pa@example.com", "recipients": ["admin@example.com"]}

    def wait_for(self, predicate: Any, timeout: float = 30) -> ReceivedMail:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for m in self.messages:
                    if predicate(m):
                        return m
            time.sleep(0.05)
        raise AssertionError(f"no matching mail in {timeout}s; got: {[m.subject for m in self.messages]}")

    def subjects(self) -> list[str]:
        with self._lock:
            return [m.subject for m in self.messages]

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def wait_until(predicate: Any, timeout: float = 30, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (httpx.TransportError, AssertionError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
