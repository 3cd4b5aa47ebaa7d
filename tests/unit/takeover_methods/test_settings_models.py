"""The DNS and NAT swing settings: what the API accepts, refuses, and never returns."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from pa_console.agent.takeover_methods.write_only import STORE_KEY, take_write_only_secrets, tsig_secret
from pa_console.protocol.models import DnsSwingUpdate, FailoverSettings, FailoverSettingsUpdate, NatSwing
from tests.unit.takeover_methods.fakes import FakeRuntime

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="  # 26 bytes of base64
DNS: dict[str, Any] = {"server": "ns1.example.com", "zone": "example.com", "record": "pa", "tsig_key_name": "pa-key",
                       "address": "192.0.2.10"}


@pytest.mark.parametrize(("field", "value", "words"), [
    ("tsig_secret", "not base64!", "base64 secret"),
    ("tsig_secret", "c2hvcnQ=", "too short"),
    ("address", "pa.example.com", "must be an IP address"),
    ("zone", "exa mple.com", "DNS name"),
    ("record", "bad..name", "DNS name"),
    ("tsig_algorithm", "rot13", "hmac-sha256"),
    ("ttl", 0, "greater than or equal to 1"),
    ("server", "", "at least 1 character"),
])
def test_dns_swing_refuses_bad_values_with_a_reason(field: str, value: Any, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DnsSwingUpdate.model_validate(DNS | {field: value})
    assert words in str(caught.value)
    assert SECRET not in str(caught.value)


def test_dns_swing_accepts_a_get_answer_put_back() -> None:
    update = FailoverSettingsUpdate.model_validate({"dns_swing": DNS | {"tsig_secret_set": True}})
    assert update.dns_swing is not None and update.dns_swing.tsig_secret is None
    assert SECRET not in repr(DnsSwingUpdate.model_validate(DNS | {"tsig_secret": SECRET}))


@pytest.mark.parametrize(("command", "words"), [
    ([], "at least 1 item"),
    (["nat-swing"], "absolute path"),
    (["/bin/x", ""], "non-empty"),
])
def test_nat_swing_wants_an_argument_list_starting_with_an_absolute_path(command: list[str], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        NatSwing(command=command, address="198.51.100.4")


def _put(runtime: FakeRuntime, body: dict[str, Any]) -> FailoverSettings:
    """What PUT /failover/settings does with the body (api/settings.py), on a fake runtime."""
    changes = FailoverSettingsUpdate.model_validate(body).model_dump(exclude_unset=True)
    take_write_only_secrets(runtime, changes)  # type: ignore[arg-type]
    merged = runtime.settings.model_dump() | changes
    runtime.settings = FailoverSettings.model_validate(merged)
    return runtime.settings


def test_the_secret_is_stored_apart_kept_by_a_put_without_it_and_removed_with_the_method() -> None:
    runtime = FakeRuntime()
    settings = _put(runtime, {"dns_swing": DNS | {"tsig_secret": SECRET}})
    assert settings.dns_swing is not None and settings.dns_swing.tsig_secret_set is True
    assert SECRET not in settings.model_dump_json()
    assert runtime.local.get(STORE_KEY) == SECRET

    settings = _put(runtime, {"dns_swing": DNS | {"ttl": 30}})  # no secret: the stored one stays
    assert settings.dns_swing is not None and settings.dns_swing.tsig_secret_set and settings.dns_swing.ttl == 30
    assert tsig_secret(runtime) == SECRET  # type: ignore[arg-type]

    settings = _put(runtime, {"auto_failover": True})  # a PUT about something else changes nothing of it
    assert settings.dns_swing is not None and settings.dns_swing.tsig_secret_set

    settings = _put(runtime, {"dns_swing": None})
    assert settings.dns_swing is None and runtime.local.get(STORE_KEY) is None
