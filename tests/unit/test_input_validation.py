"""Input validated at every door (issue 14, point 5): tables of appliance names, key files and recipients."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

from pa_console.agent.identity import IdentityError, create_identity, read_key_file
from pa_console.agent.paths import DataDir
from pa_console.protocol.models import EmailConfigUpdate, KeyUpdate, SharedAddress
from pa_console.protocol.validation import appliance_name_problem, email_problem, key_problem

GOOD_NAMES = ["appliance-a", "PA 1", "site_2.example", "a", "x" * 63, "Gerät-7"]
BAD_NAMES = [
    ("", "1 to 63"),
    ("x" * 64, "1 to 63"),
    ("x" * 100_000, "1 to 63"),
    ("evil\r\nBcc: x@evil.com", "only letters"),
    ("tab\there", "only letters"),
    ("nul\x00", "only letters"),
    ("../etc/passwd", "only letters"),
    ("a/b", "only letters"),
    (" leading", "only letters"),
    ("trailing ", "end with a space"),
    ("-dash", "only letters"),
    ("quote'", "only letters"),
    ("<script>", "only letters"),
    ("\u202eevil", "only letters"),  # right-to-left override
]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_appliance_names(name: str) -> None:
    assert appliance_name_problem(name) is None


@pytest.mark.parametrize(("name", "says"), BAD_NAMES, ids=[repr(n[:20]) for n, _ in BAD_NAMES])
def test_bad_appliance_names_are_refused_with_a_sentence(name: str, says: str) -> None:
    problem = appliance_name_problem(name)
    assert problem is not None and says in problem
    assert len(problem) < 300  # a 100k-character name is not echoed back whole


RANDOM_KEY = secrets.token_hex(32)
KEY_CASES = [
    (RANDOM_KEY, None),
    (secrets.token_hex(16), None),  # 32 random hex digits: the old minimum still passes
    (secrets.token_urlsafe(40), None),
    ("5a" * 32, None),  # patterned but not trivial: kept for existing pairs (the estimate is only a floor)
    ("short", "too short"),
    ("\x00" * 40, "printable ASCII"),
    ("a" * 64, "not random enough"),
    ("k" * 40, "not random enough"),
    ("ab cd" * 10, "printable ASCII"),
    ("é" * 40, "printable ASCII"),
    ("x" * 300, "too long"),
]


# Stable ids: some keys are random, and pytest-xdist workers must collect the same names.
@pytest.mark.parametrize(("key", "says"), KEY_CASES, ids=[f"case{i}" for i in range(len(KEY_CASES))])
def test_keys(key: str, says: str | None) -> None:
    problem = key_problem(key)
    assert (problem is None) if says is None else (problem is not None and says in problem), problem
    if says is None:
        assert KeyUpdate(key=key).key == key
    else:
        with pytest.raises(ValidationError):
            KeyUpdate(key=key)


def _fifo(tmp: Path) -> Path:
    path = tmp / "fifo"
    os.mkfifo(path)
    return path


KEY_FILES = [
    ("random key", lambda tmp: _write(tmp / "k", RANDOM_KEY + "\n"), None),
    ("/dev/zero", lambda tmp: Path("/dev/zero"), "not a regular file"),
    ("/dev/urandom", lambda tmp: Path("/dev/urandom"), "not a regular file"),
    ("a FIFO", _fifo, "not a regular file"),
    ("a folder", lambda tmp: tmp, "not a regular file"),
    ("missing", lambda tmp: tmp / "nope", "Cannot read"),
    ("40 NUL bytes", lambda tmp: _write(tmp / "k", "\x00" * 40), "printable ASCII"),
    ("1 MB of hex", lambda tmp: _write(tmp / "k", "ab" * 500_000), "larger than 4096 bytes"),
    ("binary", lambda tmp: _write_bytes(tmp / "k", bytes(range(40, 240))), "printable ASCII"),
    ("short", lambda tmp: _write(tmp / "k", "abc"), "too short"),
    ("one repeated character", lambda tmp: _write(tmp / "k", "z" * 64), "not random enough"),
]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("what", "make", "says"), KEY_FILES, ids=[k[0] for k in KEY_FILES])
def test_key_files(tmp_path: Path, what: str, make, says: str | None) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    if says is None:
        assert read_key_file(path) == RANDOM_KEY
        return
    with pytest.raises(IdentityError) as info:
        read_key_file(path)
    assert says in str(info.value), str(info.value)
    # init refuses it before anything is written
    target = DataDir(tmp_path / "appliance")
    with pytest.raises(IdentityError):
        create_identity(target, "appliance", path, [])
    assert not target.root.exists()


RECIPIENTS = [
    (["ops@example.com", "oncall@example.com"], None),
    (["admin@corp.local"], None),  # Active Directory domains
    (["root@mailhost"], None),  # a mail host on the appliance's network
    (["  ops@example.com  ", ""], None),  # trimmed, blanks dropped
    (["postmaster,evil@x.com"], "invalid characters"),
    (["a@example.com, b@example.com"], "not an email address"),
    (["Ops <ops@example.com>"], "display name"),
    (["ops@example.com\r\nBcc: evil@x.com"], "not an email address"),
    (["no-at-sign"], "not an email address"),
    (["a" * 1_000_000 + "@example.com"], "longer than an email address"),
    (["x@example.com"] * 101, "at most 100"),
]


@pytest.mark.parametrize(("recipients", "says"), RECIPIENTS, ids=[repr(r[0][:24]) for r, _ in RECIPIENTS])
def test_recipients(recipients: list[str], says: str | None) -> None:
    if says is None:
        cfg = EmailConfigUpdate(recipients=recipients)
        assert cfg.recipients == [r.strip() for r in recipients if r.strip()]
        assert all(email_problem(r) is None for r in cfg.recipients)
        return
    with pytest.raises(ValidationError) as info:
        EmailConfigUpdate(recipients=recipients)
    assert says in str(info.value)
    assert len(str(info.value)) < 2000  # a 1 MB address is not echoed back


@pytest.mark.parametrize("sender", ["pa,evil@x.com", "pa@example.com\nBcc: x@y.z", "Name <pa@example.com>"])
def test_sender_is_one_address(sender: str) -> None:
    with pytest.raises(ValidationError):
        EmailConfigUpdate(sender=sender)


@pytest.mark.parametrize("interface", ["-bad", "bad name", "eth0\n", "", "a/b", "x" * 16, "é0"])
def test_shared_address_interface_names_are_refused_in_a_sentence(interface: str) -> None:
    # Found by probing: "-bad name" was stored and would reach `ip ... dev` and `arping -I`.
    with pytest.raises(ValidationError, match=r"network interface name such as eth0|at most 15 characters"):
        SharedAddress(driver="iproute2", address="10.0.0.100", interface=interface)


@pytest.mark.parametrize("interface", ["eth0", "ens3", "br-lan", "veth1@if2", "eth0.100", "wlan0:1", None])
def test_shared_address_takes_real_interface_names(interface: str | None) -> None:
    assert SharedAddress(driver="iproute2", address="10.0.0.100", interface=interface).interface == interface
