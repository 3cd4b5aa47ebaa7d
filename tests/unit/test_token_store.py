"""Named API tokens: hashed at rest, noticed when the file changes, failing closed when it is damaged."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pa_console.agent.tokens import TokenError, TokenStore


def test_tokens_are_kept_hashed_and_found_again(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token = store.create("ci", read_only=True)
    assert token not in (tmp_path / "tokens.json").read_text()
    assert stat.S_IMODE(os.stat(tmp_path / "tokens.json").st_mode) == 0o600
    principal = store.authenticate(token)
    assert principal is not None and (principal.name, principal.read_only, principal.kind) == ("ci", True, "token")
    assert store.authenticate(token[:-1] + "x") is None


def test_a_change_by_another_process_is_noticed(tmp_path: Path) -> None:
    serving = TokenStore(tmp_path / "tokens.json")
    cli = TokenStore(tmp_path / "tokens.json")
    token = cli.create("ops", read_only=False)
    assert serving.authenticate(token) is not None
    cli.revoke("ops")
    assert serving.authenticate(token) is None


def test_a_damaged_file_refuses_every_named_token(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token = store.create("ops", read_only=False)
    (tmp_path / "tokens.json").write_text('{"tokens": 5')
    assert store.authenticate(token) is None and store.all() == []


@pytest.mark.parametrize("name", ["", "admin", "a b", "x" * 65, "../x", "n\r\nx", "-x"])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(TokenError):
        TokenStore(tmp_path / "tokens.json").create(name, read_only=True)


def test_names_are_unique_and_revoking_an_unknown_one_says_so(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    store.create("a", read_only=True)
    with pytest.raises(TokenError) as exists:
        store.create("a", read_only=False)
    assert exists.value.status == 409
    with pytest.raises(TokenError) as missing:
        store.revoke("b")
    assert missing.value.status == 404
