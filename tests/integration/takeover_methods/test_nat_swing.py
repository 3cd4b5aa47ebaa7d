"""NAT swing with real scripts: the environment they get, and exit status, output and timeouts as reported steps."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from pa_console.agent.shared_ip.base import Endpoints
from pa_console.agent.takeover_methods.base import SwingContext, TakeoverMethodError
from pa_console.agent.takeover_methods.nat_swing import OUTPUT_LIMIT, NatSwingMethod
from pa_console.agent.takeover_methods.runner import run_takeover_methods
from pa_console.protocol.models import FailoverSettings, NatSwing
from tests.unit.takeover_methods.fakes import FakeRuntime

HERE = Endpoints(own_host="127.0.0.1", peer_host="127.0.0.1")


def script(tmp_path: Path, body: str, name: str = "hook.sh") -> Path:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def nat(command: list[str], **overrides: Any) -> NatSwing:
    return NatSwing.model_validate({"command": command, "address": "203.0.113.7", "timeout_s": 5} | overrides)


def test_the_hook_gets_the_documented_environment_and_its_arguments(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    hook = script(tmp_path, f"""python3 - "$@" <<'PY' > {out}
import json, os, sys
print(json.dumps({{"argv": sys.argv[1:], "env": {{k: v for k, v in os.environ.items() if k.startswith("PA_")}}}}))
PY
echo "rule 12 now forwards to $PA_NEW_PRIMARY_ADDRESS"
""")
    ctx = SwingContext(own_name="beta", peer_name="alpha", reason="primary lost", epoch=4)
    m = NatSwingMethod(nat([str(hook), "--rule", "12", "a b; rm -rf /"]), ctx)
    done = asyncio.run(m.acquire())
    seen = json.loads(out.read_text())
    assert seen["argv"] == ["--rule", "12", "a b; rm -rf /"]  # an argument list: nothing is interpreted
    assert seen["env"] == {"PA_EVENT": "takeover", "PA_NEW_PRIMARY_NAME": "beta",
                           "PA_NEW_PRIMARY_ADDRESS": "203.0.113.7", "PA_OLD_PRIMARY_NAME": "alpha",
                           "PA_APPLIANCE_NAME": "beta", "PA_APPLIANCE_ADDRESS": "203.0.113.7",
                           "PA_REASON": "primary lost", "PA_EPOCH": "4"}
    assert "exit status 0" in done and "rule 12 now forwards to 203.0.113.7" in done
    assert m.last_exit_status == 0

    asyncio.run(m.release())
    seen = json.loads(out.read_text())
    assert seen["env"]["PA_EVENT"] == "demotion"
    assert seen["env"]["PA_NEW_PRIMARY_NAME"] == "alpha" and seen["env"]["PA_OLD_PRIMARY_NAME"] == "beta"
    assert seen["env"]["PA_NEW_PRIMARY_ADDRESS"] == ""


def test_a_failing_hook_is_reported_with_status_and_output(tmp_path: Path) -> None:
    hook = script(tmp_path, "echo 'firewall says: rule 12 is locked' >&2\nexit 3\n")
    runtime = FakeRuntime(settings=FailoverSettings.model_validate(
        {"nat_swing": nat([str(hook)]).model_dump()}))
    steps = asyncio.run(run_takeover_methods(runtime, "takeover"))  # type: ignore[arg-type]
    assert len(steps) == 1 and not steps[0].ok
    assert "failed with exit status 3" in steps[0].detail and "rule 12 is locked" in steps[0].detail
    [event] = runtime.steps()
    assert event["outcome"] == "failed" and event["exit_status"] == 3
    assert event["output"] == "firewall says: rule 12 is locked"


def test_a_hook_that_hangs_is_killed_with_its_children_at_the_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # The child keeps the output pipe open: killing the script alone would leave the agent waiting.
    hook = script(tmp_path, f"echo calling the firewall\nsleep 60 &\necho $! > {pid_file}\nwait\n")
    m = NatSwingMethod(nat([str(hook)], timeout_s=1), SwingContext(own_name="beta"))
    t0 = time.monotonic()
    with pytest.raises(TakeoverMethodError) as caught:
        asyncio.run(m.acquire())
    elapsed = time.monotonic() - t0
    assert elapsed < 4, elapsed
    assert "did not finish within 1 s and was killed" in str(caught.value)
    assert "calling the firewall" in str(caught.value)
    child = int(pid_file.read_text())
    time.sleep(0.2)
    assert not alive(child), "the command's child survived the timeout"


def alive(pid: int) -> bool:
    """Running, not a zombie (an orphan's zombie waits for PID 1 to reap it, which in a container may be never)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_output_is_truncated_to_its_end(tmp_path: Path) -> None:
    hook = script(tmp_path, "i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done\n")
    m = NatSwingMethod(nat([str(hook)]), SwingContext(own_name="beta"))
    asyncio.run(m.acquire())
    assert len(m.last_output) <= OUTPUT_LIMIT + 3 and m.last_output.endswith("line 1999")


def test_readiness_and_missing_programs(tmp_path: Path) -> None:
    hook = script(tmp_path, "exit 0\n")
    assert asyncio.run(NatSwingMethod(nat([str(hook)]), SwingContext("b")).ineligible(HERE)) is None
    hook.chmod(0o644)
    assert "is not executable" in (asyncio.run(NatSwingMethod(nat([str(hook)]), SwingContext("b"))
                                               .ineligible(HERE)) or "")
    with pytest.raises(TakeoverMethodError, match="could not be started"):
        asyncio.run(NatSwingMethod(nat([str(hook)]), SwingContext("b")).acquire())
    missing = str(tmp_path / "nope")
    assert "does not exist" in (asyncio.run(NatSwingMethod(nat([missing]), SwingContext("b")).ineligible(HERE))
                                or "")


def test_not_run_at_demotion_when_turned_off(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    hook = script(tmp_path, f"touch {marker}\n")
    m = NatSwingMethod(nat([str(hook)], run_at_demotion=False), SwingContext("beta"))
    assert "not run at demotion" in asyncio.run(m.release())
    assert not marker.exists()
