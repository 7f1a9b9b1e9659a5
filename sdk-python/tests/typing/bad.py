"""Mistakes the types from proto/ must catch; each line marked `# error` must be reported."""

from __future__ import annotations

import gatehouse


def mistakes(client: gatehouse.Gatehouse) -> None:
    client.signals.send_signal({"type": 5})  # error
    client.signals.send_signal({"source": "SIGNAL_SOURCE_MOON"})  # error
    client.signals.send_signal({"no_such_field": "x"})  # error
    client.blocker.check_visitor({"ip": "1.2.3.4", "ua": "Mozilla/5.0", "url": "/"})["ip_status"]["nope"]  # error
    label: int = client.blocker.check_visitor({})["ip_status"]["detect_activity_label"]  # error
    client.decisions.get_stats({"range": "LAST_WEEK"})  # error
