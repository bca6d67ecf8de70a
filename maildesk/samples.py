"""Values shaped like the real ones, for trying every template (`maildesk check`,
start-up, a reload) before a mail depends on it."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup


def sample_context() -> dict[str, Any]:
    """Values shaped like the real ones, to try every template in `maildesk check`."""
    return {
        # layout.html's own values
        "body": Markup("<p>Hello Alice,</p>"),
        "subject": "[#1042] Printer on fire",
        "language": "en",
        "buttons": [{"label": "5", "href": "mailto:support@example.com?subject=5"}],
        "helpdesk": {"name": "Example Support", "address": "support@example.com"},
        "ticket": {
            "id": 1042,
            "token": "[#1042]",
            "subject": "Printer on fire",
            "status": "new",
            "status_name": "new",
            "priority": "normal",
            "tier": "L1",
            "tags": ["printer"],
            "assignee": None,
            "language": "en",
            "quiet": None,
        },
        "customer": {
            "name": "Alice Example",
            "address": "alice@example.org",
            "organization": None,
            "category": None,
        },
        "message": {
            "visible_text": "The printer is on fire.",
            "subject": "Printer on fire",
            "from": "alice@example.org",
            "attachments": ["photo.jpg"],
            "files": [{"name": "photo.jpg", "size": "1.2 MB", "type": "image/jpeg"}],
        },
        "sla": {
            "policy": "normal",
            "first_response": "2 hours",
            "resolution": "4 hours",
            "first_response_within": "within 2 hours",
            "resolution_within": "within 4 hours",
        },
        "articles": [
            {"title": "Reset a forgotten password", "url": "https://help.example.com/reset"}
        ],
        "agent": {"name": "Bob Agent", "address": "bob@example.com"},
        "reply": {
            "text": "Please restart the printer.",
            "problems": ["#stauts: unknown command"],
            "help": "Commands: ...",
        },
        "timer": {
            "target": "first_response",
            "target_name": "first response",
            "kind": "reminder",
            "percent": 75,
            "due": "Mon 23 Nov 2026 11:00 CET",
            "left": "30 minutes",
            "overdue": "",
        },
        "survey": {"score": 2, "comment": "It took three days."},
        "waiting": {"closes": "Thu 26 Nov 2026 09:00 CET"},
        "merged": {"id": 1043, "token": "[#1043]", "subject": "Printer still on fire"},
        "problem": {
            "id": 1040,
            "token": "[#1040]",
            "subject": "Printers on floor 3 down",
            "tickets": [{"token": "[#1042]", "subject": "Printer on fire", "status": "new"}],
            "within": "1h",
            "command": "#problem 1043 1044",
        },
        "tickets": [
            {
                "token": "[#1042]",
                "subject": "Printer on fire",
                "status": "open",
                "tier": "L1",
                "due": "Mon 23 Nov 2026 11:00 CET",
            }
        ],
        "alert": {
            "why": "20 mails about ticket #1042 this hour already",
            "per_ticket": 20,
            "per_address": 10,
            "same_text": 5,
        },
        "held": {
            "id": 7,
            "sender": "mallory@elsewhere.example",
            "sender_name": "Mallory",
            "subject": "Re: [#1042] Printer on fire",
            "reason": "ticket #1042, but mallory@elsewhere.example is not on ticket #1042",
            "text": "Send me the invoice too.",
            "attachments": [],
        },
        "escalation": {
            "from_tier": "L1",
            "to_tier": "L2",
            "from_priority": "normal",
            "to_priority": "high",
            "breached": ["first response"],
        },
        "digest": {
            "tier": "L1",
            "description": "Basic",
            "day": "2026-11-23",
            "open": [_SAMPLE_LINE],
            "at_risk": [_SAMPLE_LINE],
            "breached": [],
        },
        "report": {  # as reports/weekly.summary words it
            "first_day": "2026-11-16",
            "last_day": "2026-11-22",
            "timezone": "Europe/Berlin",
            "tickets": 212,
            "file": "report-2026-W47.html",
            "tiles": [
                {"label": "tickets", "shown": "212", "change_shown": "▲ 14 (was 198)"},
                {"label": "median first response", "shown": "38 min", "change_shown": ""},
            ],
            "agents": [
                {
                    "agent": "agent1@example.com",
                    "first_responses": 61,
                    "first_response_median": "31 min",
                    "resolved": 55,
                    "resolution_median": "3.2 h",
                    "sla_breaches": 2,
                }
            ],
            "backlog": [{"tier": "L1", "open": 9, "oldest_days": 4.5}],
            "rising": [
                {
                    "subject": "VPN not connecting",
                    "tickets": 12,
                    "previous": 3,
                    "change": 9,
                    "problem": 1042,
                }
            ],
        },
    }


_SAMPLE_LINE = {
    "id": 1042,
    "token": "[#1042]",
    "subject": "Printer on fire",
    "status": "open",
    "priority": "normal",
    "assignee": None,
    "age": "3 hours",
    "due": "Mon 23 Nov 2026 11:00 CET",
    "overdue": "",
}
