"""What HTML mail costs: bytes of a typical acknowledgement, render time per mail, and
the cost of cutting an agent's HTML reply. Prints a table; nothing here is a test.

    .venv/bin/python bench/html_mail.py [--mails 2000] [--screenshots docs/]

"text" is the mail as it was (text/plain only); "text+html" is the same mail with its
HTML part from templates/layout.html. Times are per mail, rendering and composing
(the bytes that go into the outbox), over --mails runs; p50 and p95. The reply row
adds htmlreply.py's work on Bob's Outlook reply (the quoted history cut, the
screenshot re-referenced). ``--screenshots`` writes the acknowledgement and a relayed
reply as the customer sees them (headless Chromium) for the README.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from maildesk.htmlreply import new_html
from maildesk.mail import Outgoing
from maildesk.outbox.compose import compose
from maildesk.parse import parse_mail
from maildesk.render import TemplateSet, render_event
from maildesk.samples import sample_context
from maildesk.visible import visible_text
from tests.support.htmlmail import outlook_reply

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def context(event: str) -> dict[str, object]:
    values = sample_context()
    values.pop("buttons")
    if event == "acknowledgement":
        values["articles"] = [
            {"title": "The printer is offline", "url": "https://help.example.com/offline"},
            {"title": "Paper jams", "url": "https://help.example.com/jams"},
        ]
    return values


def mail_bytes(
    templates: TemplateSet,
    event: str,
    layout: bool,
    extra: Callable[[], dict[str, object]] | None = None,
) -> bytes:
    values = context(event)
    if extra is not None:
        values.update(extra())
    rendered = render_event(templates, event, ["en"], values, layout=layout)
    return compose(
        Outgoing(
            kind=event,
            to=("alice@example.org",),
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
        ),
        message_id="<md.1042.0@example.com>",
        sender="support@example.com",
        reply_to="support+1042@example.com",
        loop_token="support@example.com",
        date=NOW,
    )


def timed(run: Callable[[], object], count: int) -> tuple[float, float]:
    for _ in range(min(50, count)):
        run()
    times = []
    for _ in range(count):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1e6, times[int(len(times) * 0.95)] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--screenshots", type=Path, help="write the PNGs for the README here")
    args = parser.parse_args()
    templates = TemplateSet(TEMPLATES)
    reply = parse_mail(outlook_reply(1042))
    said = visible_text(reply.text)

    def agent_html() -> dict[str, object]:
        markup, _ = new_html(reply, said, "example.com")
        return {"reply": {"text": said, "html": markup, "problems": [], "help": ""}}

    rows = []
    for event, extra in (("acknowledgement", None), ("notification", None), ("reply", agent_html)):
        for layout in (False, True):
            raw = mail_bytes(templates, event, layout, extra)
            p50, p95 = timed(
                lambda e=event, lay=layout, x=extra: mail_bytes(templates, e, lay, x), args.mails
            )
            rows.append((event, "text+html" if layout else "text", len(raw), p50, p95))
    print(f"{args.mails} mails each, Python {sys.version.split()[0]}\n")
    print(f"{'mail':<16} {'parts':<10} {'bytes':>7} {'p50 µs':>8} {'p95 µs':>8}")
    for event, parts, size, p50, p95 in rows:
        print(f"{event:<16} {parts:<10} {size:>7} {p50:>8.0f} {p95:>8.0f}")
    cut50, cut95 = timed(lambda: new_html(reply, said, "example.com"), args.mails)
    print(f"{'cut Outlook reply':<27} {len(reply.raw):>7} {cut50:>8.0f} {cut95:>8.0f}")
    if args.screenshots:
        screenshots(args.screenshots)


def screenshots(folder: Path) -> None:
    """The acknowledgement and the relayed Outlook reply, as Chromium draws them."""
    from tests.support.browser import open_page
    from tests.test_html_browser import as_page, mails

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        found = mails(work, "Alice Example <alice@example.org>", "Printer on fire", kb=True)
        for kind, name in (("acknowledgement", "acknowledgement.png"), ("reply", "reply.png")):
            page = as_page(found[kind], work / f"{kind}.html")
            opened = open_page(page, work / f"profile-{kind}", shot=folder / name, size="700,560")
            assert opened.requests == (), opened.requests
            print(f"wrote {folder / name}")


if __name__ == "__main__":
    main()
