"""NAT swing: the administrator's own command points the firewall's NAT rule at the new primary.

Firewalls are changed through their own API or CLI, so the product does not speak to them: it runs a program the
administrator provides, as an argument list (never through a shell, so no quoting or injection), with what it
needs in environment variables (see `environment`), under a timeout, and records its exit status and output.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

from pa_console.agent.shared_ip.base import Endpoints
from pa_console.agent.takeover_methods.base import SwingContext, SwingEvent, TakeoverMethod, TakeoverMethodError
from pa_console.protocol.models import NatSwing

OUTPUT_LIMIT = 2000  # characters of output kept in the step (its end: where errors are)
KILL_GRACE_S = 2.0


def environment(config: NatSwing, context: SwingContext, event: SwingEvent) -> dict[str, str]:
    """The documented variables (docs/failover-methods.md). At a demotion the new primary is the peer, whose
    NAT address this appliance does not know: PA_NEW_PRIMARY_ADDRESS is then empty."""
    own, peer = context.own_name, context.peer_name or ""
    takeover = event == "takeover"
    return {
        "PA_EVENT": event,
        "PA_NEW_PRIMARY_NAME": own if takeover else peer,
        "PA_NEW_PRIMARY_ADDRESS": config.address if takeover else "",
        "PA_OLD_PRIMARY_NAME": peer if takeover else own,
        "PA_APPLIANCE_NAME": own,
        "PA_APPLIANCE_ADDRESS": config.address,
        "PA_REASON": context.reason,
        "PA_EPOCH": str(context.epoch),
    }


def _tail(output: bytes) -> str:
    text = output.decode(errors="replace").strip()
    return text if len(text) <= OUTPUT_LIMIT else "..." + text[-OUTPUT_LIMIT:]


class NatSwingMethod(TakeoverMethod):
    name = "nat_swing"

    def __init__(self, config: NatSwing, context: SwingContext) -> None:
        self.config = config
        self.context = context
        self.last_exit_status: int | None = None
        self.last_output = ""

    @property
    def program(self) -> str:
        return self.config.command[0]

    @property
    def time_limit_s(self) -> float:
        return self.config.timeout_s + 2 * KILL_GRACE_S + 1

    def describe(self) -> str:
        return f"{' '.join(self.config.command)} with {self.config.address} (NAT swing)"

    async def acquire(self) -> str:
        return await self.run("takeover")

    async def release(self) -> str:
        if not self.config.run_at_demotion:
            return "not run at demotion (nat_swing.run_at_demotion is off)"
        return await self.run("demotion")

    async def holds(self) -> bool | None:
        return None  # the firewall is the administrator's: only their command knows

    async def ineligible(self, where: Endpoints) -> str | None:
        # Not a dry run of the command itself: a hook written for takeover and demotion need not know a third
        # event, and running it could change the firewall. That the program is there and runnable is checked.
        if not os.path.isfile(self.program):
            return f"the NAT swing program {self.program} does not exist"
        if not os.access(self.program, os.X_OK):
            return f"the NAT swing program {self.program} is not executable (chmod +x)"
        return None

    async def run(self, event: SwingEvent) -> str:
        """Run the command; the answer (exit status and output) in words. Non-zero, a timeout or a program that
        cannot start raise TakeoverMethodError, with the output."""
        self.last_exit_status, self.last_output = None, ""
        env = {**os.environ, **environment(self.config, self.context, event)}
        try:
            # Its own session, so that a timeout kills whatever the command started too (a script's children
            # would otherwise keep the output pipe open and the agent waiting).
            proc = await asyncio.create_subprocess_exec(
                *self.config.command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, env=env, start_new_session=True)
        except OSError as exc:
            raise TakeoverMethodError(f"The NAT swing program {self.program} could not be started: "
                                      f"{exc.strerror or exc}.") from exc
        t0 = time.monotonic()
        output = bytearray()

        async def pump() -> None:
            # Read as it comes, keeping only the end: what was printed before a timeout is kept, and a chatty
            # command cannot fill the agent's memory.
            assert proc.stdout is not None
            while chunk := await proc.stdout.read(65536):
                output.extend(chunk)
                if len(output) > 4 * OUTPUT_LIMIT:
                    del output[:-2 * OUTPUT_LIMIT]

        try:
            await asyncio.wait_for(asyncio.gather(pump(), proc.wait()), self.config.timeout_s)
        except TimeoutError:
            await self._kill(proc)
            self.last_output = _tail(bytes(output))
            raise TakeoverMethodError(f"The NAT swing command ({event}) did not finish within "
                                      f"{self.config.timeout_s:g} s and was killed; output: "
                                      f"{self.last_output or 'none'}") from None
        self.last_exit_status = proc.returncode
        self.last_output = _tail(bytes(output))
        took = time.monotonic() - t0
        if proc.returncode != 0:
            raise TakeoverMethodError(f"The NAT swing command ({event}) failed with exit status "
                                      f"{self._status(proc.returncode)} after {took:.1f} s; output: "
                                      f"{self.last_output or 'none'}")
        return (f"the NAT swing command ({event}) succeeded (exit status 0) in {took:.1f} s; output: "
                f"{self.last_output or 'none'}")

    @staticmethod
    def _status(code: int | None) -> str:
        if code is not None and code < 0:
            try:
                return f"{code} (killed by signal {signal.Signals(-code).name})"
            except ValueError:
                return f"{code} (killed by signal {-code})"
        return str(code)

    @staticmethod
    async def _kill(proc: asyncio.subprocess.Process) -> None:
        """SIGTERM to the whole group (the command and what it started), SIGKILL after a grace."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                await asyncio.wait_for(proc.wait(), KILL_GRACE_S)
                return
            except TimeoutError:
                continue
