"""A fake org.freedesktop.Notifications server: records each Notify call as a JSON line in argv[1]."""

from __future__ import annotations

import json
import sys

from jeepney import HeaderFields, MessageType, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection


def main() -> None:
    conn = open_dbus_connection(bus="SESSION")
    conn.send_and_get_reply(message_bus.RequestName("org.freedesktop.Notifications"))
    print("ready", flush=True)
    count = 0
    with open(sys.argv[1], "a", encoding="utf-8") as out:
        while True:
            msg = conn.receive()
            if msg.header.message_type != MessageType.method_call:
                continue
            if msg.header.fields.get(HeaderFields.member) != "Notify":
                continue
            app, replaces, icon, summary, body, _actions, hints, timeout = msg.body
            if not replaces:
                count += 1
            notification_id = replaces or count  # as the spec says: a replaced notification keeps its id
            out.write(json.dumps({"app": app, "summary": summary, "body": body, "urgency": hints["urgency"][1],
                                  "id": notification_id, "replaces": replaces, "app_icon": icon,
                                  "desktop_entry": hints.get("desktop-entry", ("s", None))[1],
                                  "image": hints.get("image-path", ("s", None))[1], "timeout": timeout}))
            out.write("\n")
            out.flush()
            conn.send(new_method_return(msg, "u", (notification_id,)))


if __name__ == "__main__":
    main()
