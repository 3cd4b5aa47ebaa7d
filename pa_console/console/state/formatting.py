"""How amounts, rates and durations read in the console."""

from __future__ import annotations

from datetime import UTC, datetime


def human_bytes(value: float) -> str:
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    amount = float(value)
    for unit in units:
        if abs(amount) < 1024 or unit == units[-1]:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TiB"  # pragma: no cover


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def human_run_time(seconds: float | None) -> str:
    """How long a finished piece of work took: "under 1 s" rather than "0 s" for a sync that moved 95 MiB."""
    if seconds is not None and 0 <= seconds < 0.5:
        return "under 1 s"
    return human_duration(seconds)


def human_age(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "never"
    now = now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    age = (now - when).total_seconds()
    if age < 5:
        return "just now"
    return f"{human_duration(age)} ago"


def local_time(when: datetime | None) -> str:
    if when is None:
        return "never"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")
