"""rsync over ssh on loopback, as the reference a sync is compared with: a throwaway sshd with its own keys."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RsyncOverSsh:
    def __init__(self, workdir: Path) -> None:
        self.dir = workdir

    def available(self) -> bool:
        return all(shutil.which(t) or Path(t).exists() for t in ("/usr/sbin/sshd", "ssh", "rsync", "ssh-keygen"))

    def run(self, src: Path, dst: Path) -> float | None:
        """Seconds to move src/ to dst/ with rsync over ssh, or None where sshd/rsync are missing."""
        if not self.available():
            return None
        self.dir.mkdir(parents=True)
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
        host_key, user_key = self.dir / "host_key", self.dir / "user_key"
        for key in (host_key, user_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        auth = self.dir / "authorized_keys"
        auth.write_text((self.dir / "user_key.pub").read_text())
        os.chmod(auth, 0o600)
        port = _free_port()
        sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-p", str(port), "-h", str(host_key),
                                 "-o", "ListenAddress=127.0.0.1", "-o", f"AuthorizedKeysFile={auth}",
                                 "-o", "StrictModes=no", "-o", "PidFile=none", "-o", "UsePAM=no"],
                                stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            ssh = (f"ssh -p {port} -i {user_key} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                   "-o LogLevel=ERROR")
            dst.mkdir(parents=True)
            t0 = time.perf_counter()
            subprocess.run(["rsync", "-a", "-e", ssh, f"{src}/", f"127.0.0.1:{dst}/"], check=True)
            return time.perf_counter() - t0
        finally:
            sshd.terminate()
            sshd.wait(10)
