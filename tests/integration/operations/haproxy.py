"""A real HAProxy on loopback in front of two appliances, checking each one's `GET /check_health`.

TCP passthrough (the appliances' own TLS reaches the client), health checks over TLS to each agent's API port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.harness import free_port

CONFIG = """\
global
    maxconn 200
    stats socket {stats} mode 600 level admin

defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    timeout check 2s

frontend site
    bind 127.0.0.1:{front}
    default_backend appliances

backend appliances
    option httpchk GET /check_health
    http-check expect status 200
    default-server inter 300ms fall 1 rise 1 check-ssl verify none
{servers}
"""


@dataclass(frozen=True)
class Backend:
    name: str
    site_port: int  # where the appliance serves the site while it is the primary
    api_port: int  # where its agent answers /check_health


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or (str(Path("/usr/sbin/haproxy")) if Path("/usr/sbin/haproxy").exists() else None)


class HAProxy:
    def __init__(self, workdir: Path, backends: list[Backend]) -> None:
        self.front = free_port()
        self.stats = workdir / "haproxy.sock"
        servers = "\n".join(f"    server {b.name} 127.0.0.1:{b.site_port} check port {b.api_port}" for b in backends)
        self.config = workdir / "haproxy.cfg"
        self.config.write_text(CONFIG.format(stats=self.stats, front=self.front, servers=servers))
        self.log = workdir / "haproxy.out"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> HAProxy:
        binary = haproxy_binary()
        assert binary is not None
        check = subprocess.run([binary, "-c", "-f", str(self.config)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([binary, "-db", "-f", str(self.config)], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not self.stats.exists():
            assert self.proc.poll() is None, self.log.read_text()
            time.sleep(0.05)
        return self

    def states(self) -> dict[str, str]:
        """Each server's state as HAProxy sees it: UP or DOWN."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.stats))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        states: dict[str, str] = {}
        for line in data.decode().splitlines():
            fields = line.split(",")
            if len(fields) > 17 and fields[0] == "appliances" and fields[1] not in ("BACKEND", "FRONTEND"):
                states[fields[1]] = fields[17].split(" ")[0]
        return states

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
