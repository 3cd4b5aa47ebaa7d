"""Repeated log lines are bounded (a client sending garbage in a loop must not fill the disk), and the first line
after the pause says how many were left out; other messages are not affected."""

from __future__ import annotations

import io
import logging

from pa_console.agent.log_flood import RepeatLimit


def _logger(limit: RepeatLimit) -> tuple[logging.Logger, list[io.StringIO]]:
    logger = logging.getLogger("test.log_flood")
    logger.handlers.clear()
    logger.propagate = False
    streams = [io.StringIO(), io.StringIO()]
    for stream in streams:  # two handlers share one filter, as the agent's stderr and file handlers do
        handler = logging.StreamHandler(stream)
        handler.addFilter(limit)
        logger.addHandler(handler)
    return logger, streams


def test_a_flood_of_one_message_is_bounded_and_counted() -> None:
    limit = RepeatLimit(burst=3, window_s=3600)
    logger, streams = _logger(limit)
    for _ in range(1000):
        logger.warning("Invalid HTTP request received.")
    logger.warning("something else %s", "happened")
    logger.setLevel(logging.INFO)
    for n in range(20):  # the agent's own account (events, syncs) is never held back
        logger.info("event %s #%d", "sync_started", n)
    for stream in streams:
        lines = stream.getvalue().splitlines()
        assert lines.count("Invalid HTTP request received.") == 3
        assert "something else happened" in lines
        assert sum(line.startswith("event sync_started #") for line in lines) == 20
    limit.window_s = 0  # the window has passed
    logger.warning("Invalid HTTP request received.")
    for stream in streams:
        assert stream.getvalue().splitlines()[-1] == \
            "Invalid HTTP request received. (997 more like this were left out of the log)"
