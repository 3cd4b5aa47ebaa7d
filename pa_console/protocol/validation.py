"""Checks of what an administrator or a peer hands us, shared by the agent (CLI and API) and the console.

Each returns None when the value is fine, or one sentence saying what is wrong and what to give instead."""

from __future__ import annotations

import math
from collections import Counter

import email_validator
from email_validator import EmailNotValidError, validate_email

APPLIANCE_NAME_MAX = 63
EMAIL_MAX = 254  # RFC 5321's limit on a path
KEY_MIN_CHARS = 32
KEY_MAX_CHARS = 256
# Estimated bits below which a key is plainly not random (one repeated character, NULs, a short run): 64 random hex
# digits (what pa-agent makes) give ~250, 32 give ~110. Kept low on purpose: the estimate cannot tell a good key from
# a patterned one, only refuse the obviously bad.
KEY_MIN_BITS = 64
KEY_FILE_MAX_BYTES = 4096

# Active Directory domains are often `.local`; mail to them is normal inside a company network.
if "local" in email_validator.SPECIAL_USE_DOMAIN_NAMES:
    email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("local")


def appliance_name_problem(name: str) -> str | None:
    """Appliance names go into mail subjects and headers, file names, logs and the console: letters, digits,
    space, '.', '_' and '-' only, starting with a letter or digit, at most 63 characters (a DNS label's length)."""
    shown = repr(name[:40]) + ("…" if len(name) > 40 else "")
    if not name or len(name) > APPLIANCE_NAME_MAX:
        return f"The appliance name {shown} must be 1 to {APPLIANCE_NAME_MAX} characters long."
    if not name[0].isalnum() or not all(ch.isalnum() or ch in " ._-" for ch in name) or not name.isprintable():
        return (f"The appliance name {shown} may hold only letters, digits, spaces, '.', '_' and '-', and must "
                "start with a letter or digit.")
    if name != name.strip():
        return f"The appliance name {shown} must not end with a space."
    return None


def estimated_bits(text: str) -> float:
    """Shannon entropy of the characters times the length: a rough upper bound on the key's strength, enough to
    refuse keys that are plainly not random (one repeated character, a short pattern)."""
    if not text:
        return 0.0
    counts = Counter(text)
    per_char = -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())
    return per_char * len(text)


def key_problem(key: str) -> str | None:
    key = key.strip()
    if len(key) < KEY_MIN_CHARS:
        return (f"The Inter-Appliance key is too short ({len(key)} characters); use at least {KEY_MIN_CHARS} "
                "(pa-agent makes 64 hex digits).")
    if len(key) > KEY_MAX_CHARS:
        return f"The Inter-Appliance key is too long ({len(key)} characters); use at most {KEY_MAX_CHARS}."
    if not key.isascii() or not key.isprintable() or any(ch.isspace() for ch in key):
        return ("The Inter-Appliance key may hold only printable ASCII characters without spaces; "
                "use 64 hex digits as 'POST /api/v1/security/key/generate' or 'openssl rand -hex 32' make them.")
    if estimated_bits(key) < KEY_MIN_BITS:
        return ("The Inter-Appliance key is not random enough (too few different characters); "
                "use 64 random hex digits, e.g. from 'openssl rand -hex 32'.")
    return None


def email_problem(address: str) -> str | None:
    """One address per item (a comma, a display name or a line break is refused), syntax checked by
    email-validator, without DNS (appliances often cannot resolve the mail domain themselves)."""
    if len(address) > EMAIL_MAX:
        return f"{address[:40]!r}… is longer than an email address can be ({EMAIL_MAX} characters)."
    try:
        validate_email(address, check_deliverability=False, globally_deliverable=False, allow_domain_literal=True)
    except EmailNotValidError as exc:
        return f"{address[:80]!r} is not an email address ({str(exc).rstrip('.')})."
    return None
