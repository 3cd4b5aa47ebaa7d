"""Real hosts on one machine: network namespaces on a bridge that lives in its own namespace.

The root namespace is never touched: every link is created inside the test's namespaces, addresses are in
10.77.0.0/24 only, and everything is deleted in a `finally`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness import REPO, run_cli

SUBNET = "10.77.0"


def why_not_available() -> str | None:
    """None where the machine allows the test; else the reason it is skipped."""
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "arping", "curl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = f"pa-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"'ip netns add' is not allowed here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def sh(*argv: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    return proc


class Lan:
    """A bridge namespace and hosts plugged into it, each with eth0 at 10.77.0.N/24."""

    def __init__(self) -> None:
        tag = f"pa{os.getpid() % 100000}"
        self.bridge = f"{tag}-br"
        self.hosts: dict[str, str] = {}  # host name -> namespace
        self.tag = tag
        self.created: list[str] = []

    def __enter__(self) -> Lan:
        sh("ip", "netns", "add", self.bridge)
        self.created.append(self.bridge)
        sh("ip", "-n", self.bridge, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.bridge, "link", "set", "br0", "up")
        return self

    def add_host(self, name: str, last_octet: int) -> str:
        ns = f"{self.tag}-{name}"
        sh("ip", "netns", "add", ns)
        self.created.append(ns)
        port = f"p-{name}"[:15]
        sh("ip", "-n", self.bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "-n", self.bridge, "link", "set", port, "master", "br0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "addr", "add", f"{SUBNET}.{last_octet}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        self.hosts[name] = ns
        return ns

    def __exit__(self, *exc: object) -> None:
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def addresses(self, name: str) -> list[str]:
        out = json.loads(sh("ip", "-n", self.hosts[name], "-j", "addr", "show", "dev", "eth0").stdout)
        return [a["local"] for link in out for a in link.get("addr_info", [])]

    def link(self, name: str, up: bool) -> None:
        sh("ip", "-n", self.hosts[name], "link", "set", "eth0", "up" if up else "down")

    def curl(self, name: str, url: str, cacert: Path, method: str = "GET", token: str | None = None,
             body: Any = None, timeout: float = 3) -> tuple[int, Any]:
        """An HTTPS request from inside a host; (0, error) when nothing answers."""
        argv = ["ip", "netns", "exec", self.hosts[name], "curl", "-sS", "--max-time", str(timeout),
                "--cacert", str(cacert), "-X", method, "-w", "\n%{http_code}", url]
        if token:
            argv += ["-H", f"Authorization: Bearer {token}"]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 5)
        if proc.returncode != 0:
            return 0, proc.stderr.strip()
        text, _, code = proc.stdout.rpartition("\n")
        try:
            return int(code), json.loads(text) if text else None
        except ValueError:
            return int(code), text


@dataclass
class NsAgent:
    """A pa-agent serving inside a host namespace; its API is reached with curl from inside that namespace."""

    lan: Lan
    host: str
    address: str
    data_dir: Path
    name: str
    token: str = ""
    cacert: Path = field(default_factory=Path)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def init(cls, lan: Lan, host: str, address: str, base: Path, name: str, key_file: Path,
             sans: list[str]) -> NsAgent:
        data_dir = base / name
        args = ["init", str(data_dir), "--name", name, "--key-file", str(key_file)]
        for san in sans:
            args += ["--san", san]
        run_cli(*args)
        info = json.loads(run_cli("info", str(data_dir), "--json").stdout)
        return cls(lan, host, address, data_dir, name, info["api_token"], Path(info["cert_path"]))

    def start(self, timeout: float = 20) -> NsAgent:
        listen_file = self.data_dir / "listen.json"
        listen_file.unlink(missing_ok=True)
        log = open(self.data_dir / "serve.out", "ab")  # handed to the child
        # `ip netns exec` execs the agent in place: the pid is the agent's, so kill -9 reaches it.
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.lan.hosts[self.host], sys.executable, "-m",
                                      "pa_console.agent", "serve", str(self.data_dir), "--listen",
                                      f"{self.address}:{self.port}"],
                                     stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{(self.data_dir / 'serve.out').read_text()}")
            if listen_file.exists():
                doc = json.loads(listen_file.read_text())
                if doc.get("pid") == self.proc.pid:
                    self.port = int(doc["listen"].rsplit(":", 1)[1])
                    if self.api("GET", "/api/v1/failover/health")[0] == 200:
                        return self
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not start:\n{(self.data_dir / 'serve.out').read_text()}")

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return self.lan.curl(self.host, f"https://{self.address}:{self.port}{path}", self.cacert, method,
                             self.token, body)

    def health(self) -> dict[str, Any]:
        status, body = self.api("GET", "/api/v1/failover/health")
        assert status == 200, body
        result: dict[str, Any] = body
        return result

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
