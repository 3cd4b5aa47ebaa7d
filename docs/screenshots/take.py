"""Screenshots for the README, taken from the real program (the demo lab) on a virtual screen.

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/screenshots/take.py

(`apt-get install xvfb` and Qt's xcb libraries; see README, Troubleshooting.)"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
os.environ.setdefault("PYSIDE6_OPTION_LAZY", "0")

from pa_console.console.demo import DemoSession, run_demo  # noqa: E402


async def wait_for(predicate, timeout: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("the demo did not reach the state to show")
        await asyncio.sleep(0.2)


async def shoot(session: DemoSession) -> None:
    window, fleet, lab = session.window, session.fleet, session.lab
    window.resize(1500, 900)
    ids = {state.name: state.id for state in fleet.states.values()}
    primary, backup = fleet.states[ids[lab.primary.name]], fleet.states[ids[lab.backup.name]]

    def grab(name: str) -> None:
        window.grab().save(str(HERE / f"{name}.png"))
        print("saved", name)

    await wait_for(lambda: backup.health is not None and backup.health.last_sync_status.value == "ok")
    await asyncio.sleep(1.5)
    window.appliances.select(primary.id)
    for index, name in enumerate(["demo", "security", "email", "timeline"]):
        window.tabs.setCurrentIndex(index)
        await asyncio.sleep(0.8)
        grab(name)
    window.tabs.setCurrentIndex(0)
    window.appliances.select(backup.id)
    await asyncio.sleep(0.8)
    grab("failover-backup")
    await session.controller.stop_appliance(lab.primary)
    await wait_for(lambda: backup.countdown_left() is not None and (backup.countdown_left() or 99) < 12)
    await asyncio.sleep(0.5)
    grab("countdown")
    await wait_for(lambda: backup.health is not None and backup.health.role.value == "primary")
    await asyncio.sleep(2.0)
    grab("takeover")


def main() -> int:
    args = argparse.Namespace(theme="light", quit_after=None, screenshot=None)
    return run_demo(args, shoot)


if __name__ == "__main__":
    raise SystemExit(main())
