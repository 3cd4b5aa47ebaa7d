"""Running the system tools a driver needs: argument lists (never a shell), a timeout, the answer in words."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    argv: tuple[str, ...]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def sentence(self) -> str:
        text = " ".join(self.output.split())[:300] or "no output"
        return f"'{' '.join(self.argv)}' exited with {self.returncode}: {text}"


async def run(argv: list[str], timeout: float = 10.0) -> Outcome:
    """Run a command; a missing program or a timeout is an Outcome too (returncode 127 / 124), never an exception."""
    if shutil.which(argv[0]) is None:
        return Outcome(tuple(argv), 127, f"{argv[0]} is not installed (not found on PATH)")
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return Outcome(tuple(argv), 124, f"no answer within {timeout:g} s")
    return Outcome(tuple(argv), proc.returncode if proc.returncode is not None else -1,
                   out.decode(errors="replace"))
