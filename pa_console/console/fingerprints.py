"""Certificate and key fingerprints, compared however they are spelled."""

from __future__ import annotations

import hashlib


def normalize_fingerprint(value: str | None) -> str:
    """Colons, spaces, case and a `sha256:` prefix do not matter when comparing fingerprints."""
    if not value:
        return ""
    text = value.strip().lower()
    if text.startswith("sha256:"):
        text = text[len("sha256:") :]
    return text.replace(":", "").replace(" ", "")


def same_fingerprint(a: str | None, b: str | None) -> bool:
    na, nb = normalize_fingerprint(a), normalize_fingerprint(b)
    return bool(na) and na == nb


def fingerprint_of_der(der: bytes) -> str:
    """SHA-256 over the DER, as SSH and browsers show it: uppercase hex pairs joined by colons."""
    return pretty_fingerprint(hashlib.sha256(der).hexdigest())


def pretty_fingerprint(value: str) -> str:
    text = normalize_fingerprint(value).upper()
    return ":".join(text[i : i + 2] for i in range(0, len(text), 2))


def wrapped_fingerprint(value: str, pairs_per_line: int = 16) -> str:
    """The pretty form on lines of `pairs_per_line` pairs, so a long fingerprint never widens a window."""
    pairs = pretty_fingerprint(value).split(":")
    lines = [":".join(pairs[i : i + pairs_per_line]) for i in range(0, len(pairs), pairs_per_line)]
    return ":\n".join(lines)
