"""`maildesk report` as one HTML file: inline CSS and SVG, no network, opens anywhere.

A content security policy forbids every outside resource, so a page that
renders here renders the same offline. The only script records errors into
the page (for the headless-browser test) and marks it rendered.
"""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

from maildesk.reports import charts, tables
from maildesk.reports.backlog import AGES
from maildesk.reports.data import WEEKDAYS, ReportData

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1f2933; background: #f5f6f8; margin: 0; }
main { max-width: 780px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 8px; }
.period { color: #52606d; margin-bottom: 18px; }
.tiles { display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px; margin-bottom: 18px; }
.tile { background: #fff; border-radius: 8px; padding: 10px 12px;
        box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.tile b { display: block; font-size: 22px; }
.tile span { color: #52606d; font-size: 12px; display: block; }
.tile i { font-style: normal; font-size: 12px; }
.good { color: #2f7d3b; } .bad { color: #b8474a; } .flat { color: #7b8794; }
section { background: #fff; border-radius: 8px; padding: 14px 16px 10px; margin-bottom: 16px;
          box-shadow: 0 1px 2px rgba(0,0,0,.08); }
section p { color: #52606d; margin: 0 0 8px; font-size: 13px; }
svg { max-width: 100%; height: auto; font-size: 11px; }
svg .tick { fill: #52606d; }
svg .grid { stroke: #e4e7eb; }
svg .target { stroke: #b8474a; stroke-dasharray: 5 4; stroke-width: 2; }
svg .series { fill: none; stroke: #3b6ea8; stroke-width: 2; }
svg .dot { fill: #3b6ea8; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
td, th { text-align: left; padding: 3px 4px; border-bottom: 1px solid #e4e7eb; }
.wide { overflow-x: auto; }
td.num { text-align: right; white-space: nowrap; }
p.empty { font-style: italic; }
footer { color: #7b8794; font-size: 12px; text-align: center; }
"""

# Errors go into the page, where a headless browser (and a curious admin) can read them.
TRAP = """
(function () {
  var log = [];
  function keep(text) { log.push(String(text)); var n = document.getElementById('console-errors');
    if (n) { n.textContent = log.join('\\n'); } }
  window.addEventListener('error', function (e) { keep(e.message || 'error'); });
  var original = console.error;
  console.error = function () { keep(Array.prototype.join.call(arguments, ' '));
    return original.apply(console, arguments); };
  document.addEventListener('DOMContentLoaded', function () {
    document.body.setAttribute('data-rendered', String(document.querySelectorAll('svg').length));
  });
})();
"""


def render(data: ReportData, title: str, *, script: bool = True) -> str:
    """The page; ``script=False`` for mail, where no script belongs."""
    sections = [
        _section(
            "Tickets per day, by tier",
            "New tickets each day, counted under the tier the rules gave them.",
            charts.stacked_bars(
                [d["day"][5:] for d in data.per_day],
                {t: [d["tiers"].get(t, 0) for d in data.per_day] for t in data.tiers},
            ),
        ),
        _section(
            "First response against the SLA target",
            "Time to the first answer as a share of the ticket's own target (business time). "
            f"Unanswered and overdue: "
            f"{data.first_response['unanswered_overdue']}.",
            _target_chart(data.first_response),
        ),
        _section(
            "SLA compliance by tier",
            "Share of tickets whose first response and resolution met their targets "
            "(targets still running are left out).",
            _compliance_chart(data.compliance),
        ),
        _section(
            "Agents",
            "Per agent, for these tickets: first answers and resolutions with their median "
            "and p90 business time, how often a resolution was opened again, satisfaction "
            "with what they resolved, and SLA targets missed.",
            tables.agents(data.agents),
        ),
        _section(
            "Backlog by age",
            "Open now, per tier, by how long each ticket has been open.",
            charts.stacked_bars(
                [b["tier"] for b in data.backlog],
                {
                    label: [b["ages"][i]["tickets"] for b in data.backlog]
                    for i, (_, label) in enumerate(AGES)
                },
            )
            + tables.oldest(data.backlog),
        ),
        _section(
            "Satisfaction",
            f"Average score by week (1-5); {data.satisfaction['answered']} answers to "
            f"{data.satisfaction['sent']} surveys.",
            charts.line(
                [w["week"] for w in data.satisfaction["weekly"]],
                [w["average"] for w in data.satisfaction["weekly"]],
                y_max=5.0,
            )
            + charts.horizontal_bars(
                [(f"{d['score']} / 5", d["answers"]) for d in data.satisfaction["distribution"]]
            ),
        ),
        _section(
            "Self-service deflection",
            "Share of tickets the customer closed with a knowledge-base article, by week.",
            charts.line(
                [w["week"] for w in data.self_service["weekly"]],
                [w["rate_percent"] for w in data.self_service["weekly"]],
                y_max=100.0,
                unit="%",
            ),
        ),
        _section(
            "Top tags",
            "Tags set by rules and agents.",
            charts.horizontal_bars([(t["tag"], t["tickets"]) for t in data.top_tags]),
        ),
        _section(
            "Frequent problems",
            "Subjects that come back, grouped by their words (stemmed), most common first.",
            charts.horizontal_bars([(s["subject"], s["tickets"]) for s in data.frequent_subjects]),
        ),
        _section(
            "Rising problems",
            "Problems seen more often than in the period before, the steepest rise first.",
            tables.rising(data.rising_problems),
        ),
        _section(
            "Busiest hours",
            f"New tickets by weekday and hour ({escape(data.timezone)}).",
            charts.heatmap(data.busiest_hours, WEEKDAYS),
        ),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="icon" href="data:,">'
        f"<style>{CSS}</style>{f'<script>{TRAP}</script>' if script else ''}</head><body><main>"
        f"<h1>{escape(title)}</h1>"
        f'<div class="period">Tickets opened from {escape(data.since[:10])} to '
        f"{escape(data.last_day)} ({escape(data.timezone)}); changes against the "
        f"{escape(_days(data))} before</div>"
        f"{tables.tiles(data.tiles)}{''.join(sections)}"
        '<pre id="console-errors" hidden></pre>'
        "<footer>maildesk report</footer></main></body></html>\n"
    )


def _section(title: str, note: str, chart: str) -> str:
    return f"<section><h2>{escape(title)}</h2><p>{escape(note)}</p>{chart}</section>"


def _days(data: ReportData) -> str:
    first, last = date.fromisoformat(data.since[:10]), date.fromisoformat(data.last_day)
    days = (last - first).days + 1
    return "day" if days == 1 else f"{days} days"


def _target_chart(first: dict[str, Any]) -> str:
    """In time (up to 100% of the target) in one colour, late in another."""
    labels = [b["label"] for b in first["buckets"]]
    late = [i >= 4 for i in range(len(labels))]  # the buckets past 100%
    return charts.grouped_bars(
        labels,
        {
            "in time": [
                None if x else b["tickets"] for x, b in zip(late, first["buckets"], strict=True)
            ],
            "late": [
                b["tickets"] if x else None for x, b in zip(late, first["buckets"], strict=True)
            ],
        },
    )


def _compliance_chart(rows: list[dict[str, Any]]) -> str:
    by_tier: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["tier"] != "all":
            by_tier.setdefault(row["tier"], []).append(row)
    tiers = sorted(by_tier)

    def share(tier: str, key: str) -> float | None:
        values = [r[key] for r in by_tier[tier] if r[key] is not None]
        weights = [r["tickets"] for r in by_tier[tier] if r[key] is not None]
        if not values:
            return None
        return float(
            round(sum(v * w for v, w in zip(values, weights, strict=True)) / sum(weights), 1)
        )

    return charts.grouped_bars(
        tiers,
        {
            "first response": [share(t, "first_response_percent") for t in tiers],
            "resolution": [share(t, "resolution_percent") for t in tiers],
        },
        y_max=100.0,
        unit="%",
    )
