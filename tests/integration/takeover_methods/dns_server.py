"""A real authoritative DNS server for the tests: BIND 9 `named` on 127.0.0.1, a free port, a temporary directory.

The zone `swing.test` lets the key `pa-swing` update the A/AAAA records of `site` (update-policy), and nothing else.
BIND comes from Debian's package `bind9`; where it is missing and the tests run as root, it is installed with apt
once per session; where that is impossible, the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype

from tests.harness import free_port

ZONE = "swing.test"
KEY_NAME = "pa-swing"
SECRET = base64.b64encode(bytes(range(32))).decode()
OTHER_SECRET = base64.b64encode(bytes(range(100, 132))).decode()
FIRST_ADDRESS = "127.0.0.10"
APT_PACKAGE = "bind9"

_install_attempted: list[str | None] = []


def named_binary() -> tuple[str | None, str]:
    """The path of `named`, installing Debian's bind9 if needed and possible; else (None, why not)."""
    found = shutil.which("named") or ("/usr/sbin/named" if os.path.exists("/usr/sbin/named") else None)
    if found:
        return found, ""
    if not _install_attempted:
        _install_attempted.append(_apt_install())
    why = _install_attempted[0]
    found = shutil.which("named") or ("/usr/sbin/named" if os.path.exists("/usr/sbin/named") else None)
    return found, why or "named not found after installing bind9"


def _apt_install() -> str | None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"BIND 9 (named) is not installed, and apt cannot install it here (needs root and apt-get): " \
               f"apt-get install {APT_PACKAGE}"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "install", "-y", "-qq", "--no-install-recommends", APT_PACKAGE],
                 ["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "--no-install-recommends", APT_PACKAGE]):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
        if argv[1] == "install" and proc.returncode == 0:
            return None
    return f"apt-get install {APT_PACKAGE} failed: {proc.stderr.strip()[-300:]}"


class BindServer:
    def __init__(self, workdir: Path, named: str) -> None:
        self.dir = workdir
        self.named = named
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "named.conf").write_text(f"""
key "{KEY_NAME}" {{ algorithm hmac-sha256; secret "{SECRET}"; }};
key "other-key" {{ algorithm hmac-sha256; secret "{OTHER_SECRET}"; }};
options {{
  directory "{self.dir}";
  pid-file "{self.dir}/named.pid";
  listen-on port {self.port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion no;
  dnssec-validation no;
  notify no;
}};
controls {{ }};
zone "{ZONE}" {{
  type primary;
  file "{self.dir}/{ZONE}.zone";
  update-policy {{ grant {KEY_NAME} name site.{ZONE}. A AAAA; }};
}};
""")
        (self.dir / f"{ZONE}.zone").write_text(f"""$TTL 60
@ IN SOA ns.{ZONE}. admin.{ZONE}. 1 60 60 3600 60
@ IN NS ns.{ZONE}.
ns IN A 127.0.0.1
site IN A {FIRST_ADDRESS}
other IN A {FIRST_ADDRESS}
""")

    def start(self, timeout: float = 15) -> BindServer:
        self.write_config()
        log = open(self.dir / "named.log", "wb")
        # -g: foreground, log to stderr; running as root without -u is fine for a test (nothing privileged used).
        self.proc = subprocess.Popen([self.named, "-g", "-c", str(self.dir / "named.conf")],
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"named exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.serial() >= 1:
                    return self
            except (OSError, dns.exception.DNSException):
                time.sleep(0.1)
        raise AssertionError(f"named did not answer within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self) -> str:
        path = self.dir / "named.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def query(self, name: str, rdtype: str = "A") -> list[str]:
        """Resolve against this server (dnspython, UDP), as a client of the site would."""
        q = dns.message.make_query(name, rdtype)
        r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=3)
        t = dns.rdatatype.from_text(rdtype)
        return sorted(str(rd) for rrset in r.answer if rrset.rdtype == t for rd in rrset)

    def ttl(self, name: str, rdtype: str = "A") -> int:
        q = dns.message.make_query(name, rdtype)
        r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=3)
        return int(r.answer[0].ttl)

    def serial(self) -> int:
        q = dns.message.make_query(ZONE, "SOA")
        r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=1)
        return int(r.answer[0][0].serial) if r.answer else 0
