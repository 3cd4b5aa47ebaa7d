from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pa_console.console.state.readiness import check_readiness
from pa_console.protocol.models import FailoverSettings, SharedAddress

from .factories import pair


def _items(primary, backup):  # type: ignore[no-untyped-def]
    return {i.key: i for i in check_readiness(primary, backup).items}


def test_ready_pair() -> None:
    primary, backup = pair()
    shared = SharedAddress(driver="loopback", address="127.0.0.50", port=9443)
    primary.set_settings(FailoverSettings(shared_address=shared))
    backup.set_settings(FailoverSettings(shared_address=shared, auto_failover=True))
    readiness = check_readiness(primary, backup)
    assert readiness.ready, readiness.failing()
    # The same answer whichever side is selected.
    assert check_readiness(backup, primary).ready


def test_each_problem_is_named() -> None:
    primary, backup = pair(last_sync_at=datetime.now(UTC) - timedelta(hours=2))
    backup.set_key_fingerprint("bb" * 32)
    backup.set_health(backup.health.model_copy(update={"version": "9.9", "primary_reachable": False}))  # type: ignore[union-attr]
    iproute = SharedAddress(driver="iproute2", address="10.9.0.5")
    primary.set_settings(FailoverSettings(shared_address=iproute))
    backup.set_settings(FailoverSettings(shared_address=iproute))
    items = _items(primary, backup)
    assert items["keys"].ok is False and "Security" in items["keys"].detail
    assert items["versions"].ok is False and "9.9" in items["versions"].detail
    assert items["sync"].ok is False and "min old" in items["sync"].detail
    assert items["shared"].ok is False and "10.9.0.0/24" in items["shared"].detail
    assert items["peer"].ok is False
    assert not check_readiness(primary, backup).ready


def test_unknown_peer_is_not_ready_but_not_failed() -> None:
    primary, _ = pair()
    items = _items(primary, None)
    assert items["keys"].ok is None
    assert not check_readiness(primary, None).ready


def test_loopback_driver_needs_loopback_address() -> None:
    primary, backup = pair()
    wrong = SharedAddress(driver="loopback", address="10.0.0.1")
    primary.set_settings(FailoverSettings(shared_address=wrong))
    backup.set_settings(FailoverSettings(shared_address=wrong))
    assert "127.0.0.0/8" in _items(primary, backup)["shared"].detail


def test_pending_settings_are_judged_before_they_are_saved() -> None:
    primary, backup = pair()
    shared = SharedAddress(driver="loopback", address="127.0.0.50", port=9443)
    primary.set_settings(FailoverSettings(shared_address=shared))
    assert _items(primary, backup)["shared"].ok is False  # the backup has none yet
    primary.set_settings(FailoverSettings())
    no_primary = check_readiness(backup, primary, pending=FailoverSettings(shared_address=shared))
    assert "No shared address is set on alpha" in {i.key: i for i in no_primary.items}["shared"].detail
    primary.set_settings(FailoverSettings(shared_address=shared))
    pending = FailoverSettings(shared_address=shared, auto_failover=True)
    assert check_readiness(backup, primary, pending=pending).ready


def test_an_appliance_the_console_lost_is_not_reachable_whichever_side_it_is() -> None:
    from pa_console.console.state.status import ConnectionStatus

    primary, backup = pair()
    backup.set_status(ConnectionStatus.OFFLINE, "gone")
    items = _items(primary, backup)
    assert items["peer"].ok is False and "beta" in items["peer"].detail
    primary, backup = pair()
    primary.set_status(ConnectionStatus.OFFLINE, "gone")
    items = _items(backup, primary)
    assert items["peer"].ok is False and "alpha" in items["peer"].detail
