"""The Qt-free side of the DNS/NAT swing settings: typed from fields, per-field errors, the partial PUT, and
their readiness items."""

from __future__ import annotations

from pa_console.console.state.readiness import check_readiness
from pa_console.console.state.takeover_methods import (
    DnsFields,
    NatFields,
    arguments,
    check_line,
    dns_swing_from,
    field_of_agent_error,
    method_changes,
    nat_swing_from,
)
from pa_console.protocol.models import DnsSwing, DnsSwingUpdate, FailoverSettings, NatSwing, TakeoverMethodCheck

from .factories import pair

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg=="
STORED = DnsSwing(server="ns1.example.com", zone="example.com", record="pa", tsig_key_name="pa-swing",
                  address="198.51.100.20", tsig_secret_set=True)


def _fields(**kw: object) -> DnsFields:
    values: dict[str, object] = dict(server="ns1.example.com", port=53, zone="example.com", record="pa", ttl=60,
                                     tsig_key_name="pa-swing", tsig_algorithm="hmac-sha256", secret="",
                                     address="198.51.100.20")
    values.update(kw)
    return DnsFields(**values)  # type: ignore[arg-type]


def test_dns_fields_errors_per_field() -> None:
    errors = dns_swing_from(_fields(server="", zone="bad zone", secret="", address="x"), secret_stored=False)
    assert isinstance(errors, dict)
    assert set(errors) >= {"server", "zone", "tsig_secret", "address"}
    assert isinstance(dns_swing_from(_fields(), secret_stored=True), DnsSwingUpdate)
    made = dns_swing_from(_fields(secret=SECRET), secret_stored=False)
    assert isinstance(made, DnsSwingUpdate) and made.tsig_secret == SECRET
    assert "tsig_secret" not in dns_swing_from(_fields(), secret_stored=True).model_dump(  # type: ignore[union-attr]
        exclude_unset=True)


def test_nat_command_is_an_argument_list() -> None:
    assert arguments("/bin/x\n  --a b \n\n") == ["/bin/x", "--a b"]
    assert "command" in nat_swing_from(NatFields("", "10.0.0.1", 30))  # type: ignore[operator]
    assert "absolute path" in nat_swing_from(NatFields("x", "10.0.0.1", 30))["command"]  # type: ignore[index]
    ok = nat_swing_from(NatFields("/bin/x\n--rule\npa https", "10.0.0.1", 30))
    assert isinstance(ok, NatSwing) and ok.command == ["/bin/x", "--rule", "pa https"]


def test_only_changed_methods() -> None:
    nat = NatSwing(command=["/bin/x"], address="10.0.0.1")
    loaded = FailoverSettings(dns_swing=STORED, nat_swing=nat)
    same = dns_swing_from(_fields(), secret_stored=True)
    assert isinstance(same, DnsSwingUpdate)
    assert method_changes(loaded, same, nat) == {}
    assert method_changes(loaded, None, None) == {"dns_swing": None, "nat_swing": None}
    new_secret = dns_swing_from(_fields(secret=SECRET), secret_stored=True)
    assert set(method_changes(loaded, new_secret, nat)) == {"dns_swing"}  # type: ignore[arg-type]
    assert method_changes(FailoverSettings(), None, None) == {}


def test_agent_errors_and_check_lines() -> None:
    assert field_of_agent_error("dns_swing.zone", "x") == ("dns_swing", "zone")
    assert field_of_agent_error("nat_swing.command.0", "x") == ("nat_swing", "command")
    assert field_of_agent_error(None, "The TSIG secret is wrong") == ("dns_swing", "")
    assert field_of_agent_error("shared_address.address", "x") is None
    assert check_line(TakeoverMethodCheck(method="nat_swing", configured=True, ready=False,
                                          detail="the program does not exist")) == (
        "NAT swing is NOT ready: the program does not exist.")


def test_readiness_items_per_swing() -> None:
    primary, backup = pair()
    backup.set_settings(FailoverSettings(dns_swing=STORED))
    items = {i.key: i for i in check_readiness(backup, primary).items}
    assert items["shared"].ok is True and "DNS swing" in items["shared"].detail
    assert items["dns_swing"].ok is None and "Check" in items["dns_swing"].detail
    backup.set_method_checks([TakeoverMethodCheck(method="dns_swing", configured=True, ready=False,
                                                  detail="the server did not answer")])
    items = {i.key: i for i in check_readiness(backup, primary).items}
    assert items["dns_swing"].ok is False and "did not answer" in items["dns_swing"].detail
    # Pending, unsaved changes to the method: the last check says nothing about them.
    pending = FailoverSettings(dns_swing=STORED.model_copy(update={"ttl": 30}))
    items = {i.key: i for i in check_readiness(backup, primary, pending=pending).items}
    assert items["dns_swing"].ok is None and "save" in items["dns_swing"].detail
    # New settings clear an old check.
    backup.set_settings(pending)
    assert backup.method_checks is None
