"""The readiness list is read at a glance: at any width its items wrap and all of it shows (no scrollbar, nothing
cut off). Seen on Xvfb: a long line of the copy's state once added a horizontal scrollbar, and a narrowed window cut
the last items off."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from pa_console.console.state.readiness import Readiness, ReadinessItem
from pa_console.console.views.readiness_view import ReadinessView

ITEMS = (
    ReadinessItem("copy", "Complete copy", True, "The backup holds a complete copy of the primary's data, verified "
                  "2026-11-30 13:13:23 UTC (512 sessions, 200 MB of recordings, digest equal on both appliances)."),
    ReadinessItem("mail", "Mail", None, "No test mail was sent yet."),
    ReadinessItem("takeover", "Takeover method", False, "The shared address is not configured; set it, or a DNS or "
                  "NAT swing, in the failover settings."),
)


@pytest.mark.parametrize("width", [700, 320, 170])
def test_every_item_shows_whole_at_any_width(qtbot: QtBot, width: int) -> None:
    view = ReadinessView()
    qtbot.addWidget(view)
    view.resize(700, 100)
    view.show()
    view.show_readiness(Readiness(ITEMS))
    view.resize(width, view.height())
    qtbot.wait(10)
    assert view.horizontalScrollBar().maximum() == 0
    for i in range(view.count()):
        rect = view.visualItemRect(view.item(i))
        assert rect.right() < view.viewport().width() + 1
        assert rect.bottom() < view.viewport().height(), f"item {i} is cut off at width {width}"
    assert view.verticalScrollBar().maximum() == 0
