"""The demo panel's mail list: long subjects elided (whole in the tooltip), no sideways scroll bar.

Found trying the demo: "16:46:11 [pa] Primary appliance-a lost: fail…" ran past the panel with a horizontal scroll
bar under the list."""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any

from pa_console.console.views.demo_panel import DemoPanel
from pa_console.demo.controller import DemoController
from pa_console.demo.lab import DemoLab
from pa_console.demo.mailsink import DemoMail


def test_long_subjects_do_not_scroll_sideways(qtbot: Any, aloop: Any) -> None:
    lab = DemoLab()  # not started: no agent, no mail server; only its mail list is used
    try:
        controller = DemoController(lab)
        panel = DemoPanel(controller)
        qtbot.addWidget(panel)
        panel.resize(280, 500)
        panel.show()
        subject = ("[pa] Primary appliance-a lost: failover in 20 s unless it answers again "
                   "(Nothing accepts connections at 127.0.0.1:40185)")
        lab.mail.mails.append(DemoMail(dt.datetime.now(), "pa@example.com", ("admin@example.com",), subject, "body"))
        controller._emit("mail")
        qtbot.wait(50)
        assert panel.mail_list.count() == 1
        assert panel.mail_list.item(0).toolTip() == subject
        assert not panel.mail_list.horizontalScrollBar().isVisible()
    finally:
        shutil.rmtree(lab.base, ignore_errors=True)
