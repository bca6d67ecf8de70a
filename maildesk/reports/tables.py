"""The report's tables and tiles as HTML: agents, the oldest open tickets, rising problems.

Every cell is escaped: subjects and addresses come from strangers.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any


def duration(minutes: float | None) -> str:
    """Business minutes as people read them: 45 min, 3.5 h, 2.1 d (of 24 h)."""
    if minutes is None:
        return "-"
    if minutes < 120:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"


def table(head: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> str:
    """Cells are escaped here; numbers right-aligned."""
    if not rows:
        return f'<p class="empty">{escape(empty)}</p>'
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{escape(c)}</td>' if _numeric(c) else f"<td>{escape(c)}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="wide"><table><thead><tr>{cells}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _numeric(cell: str) -> bool:
    return bool(cell) and (cell[0].isdigit() or cell[0] in "+-−") and cell != "-"


def agents(rows: Sequence[dict[str, Any]]) -> str:
    return table(
        [
            "Agent",
            "Handled",
            "First resp.",
            "median / p90",
            "Resolved",
            "median / p90",
            "Reopened",
            "CSAT",
            "SLA missed",
        ],
        [
            [
                r["agent"],
                str(r["handled"]),
                str(r["first_responses"]),
                f"{duration(r['first_response_median_minutes'])} / "
                f"{duration(r['first_response_p90_minutes'])}",
                str(r["resolved"]),
                f"{duration(r['resolution_median_minutes'])} / "
                f"{duration(r['resolution_p90_minutes'])}",
                f"{r['reopen_rate_percent']:.0f}% of {r['resolutions']}"
                if r["reopen_rate_percent"] is not None
                else "-",
                f"{r['satisfaction_average']:.1f} ({r['satisfaction_answers']})"
                if r["satisfaction_average"] is not None
                else "-",
                str(r["sla_breaches"]),
            ]
            for r in rows
        ],
        "No agent worked on these tickets.",
    )


def oldest(backlog: Sequence[dict[str, Any]]) -> str:
    return table(
        ["Tier", "Ticket", "Subject", "Status", "Open for", "Assignee"],
        [
            [
                tier["tier"],
                f"#{t['ticket']}",
                t["subject"],
                t["status"],
                f"{t['age_days']:.1f} days",
                t["assignee"] or "nobody",
            ]
            for tier in backlog
            for t in tier["oldest"]
        ],
        "Nothing is open.",
    )


def rising(problems: Sequence[dict[str, Any]]) -> str:
    return table(
        ["Subject", "This period", "Before", "Change", "Known problem"],
        [
            [
                p["subject"],
                str(p["tickets"]),
                str(p["previous"]),
                f"+{p['change']}",
                f"#{p['problem']}" if p["problem"] is not None else "-",
            ]
            for p in problems
        ],
        "No problem comes back more often than before.",
    )


def tiles(items: Sequence[dict[str, Any]]) -> str:
    """Each tile: the value, what it is, and its change since the previous period,
    green when better, red when worse."""
    return (
        '<div class="tiles">'
        + "".join(
            f'<div class="tile"><b>{escape(shown(t))}</b>'
            f"<span>{escape(t['label'])}</span>"
            f'<i class="{_mood(t)}">{escape(change_shown(t) or "no earlier figure")}</i></div>'
            for t in items
        )
        + "</div>"
    )


def shown(tile: dict[str, Any]) -> str:
    """A tile's value as people read it."""
    return _value(tile["value"], tile["key"])


def _value(value: float | None, key: str) -> str:
    if value is None:
        return "-"
    if key.endswith("_minutes"):
        return duration(value)
    if key.endswith("_percent"):
        return f"{value:.0f}%"
    if key == "satisfaction_average":
        return f"{value:.1f} / 5"
    return f"{value:g}"


def change_shown(tile: dict[str, Any]) -> str:
    """ "▲ 4 (was 1)"; empty when there is nothing to compare with."""
    delta, before = tile["change"], tile["previous"]
    if delta is None:
        return ""
    arrow = "▲" if delta > 0 else "▼" if delta < 0 else "="
    if tile["key"].endswith("_minutes"):
        amount = duration(abs(delta))
    elif tile["key"].endswith("_percent"):
        amount = f"{abs(delta):.1f} pts"
    else:
        amount = f"{abs(delta):g}"
    return f"{arrow} {amount} (was {_value(before, tile['key'])})"


def _mood(tile: dict[str, Any]) -> str:
    delta = tile["change"]
    if not delta or tile["better"] is None:
        return "flat"
    return "good" if (delta > 0) == (tile["better"] == "up") else "bad"
