"""What the trust model does to real mail: acknowledged, silenced, held or quarantined.

Every mail of the shared corpus (../shared/corpus, in INDEX order) goes into one
fresh desk as it would arrive at support@, then the attack cases of issue 14.
Prints a table per category and the reasons; nothing here is a test.

    .venv/bin/python bench/trust.py [--corpus ../shared/corpus] [--trust-seen]

--trust-seen believes the Authentication-Results of every MTA that wrote the
topmost such header of a corpus mail (as if each had arrived through that MTA
and the desk named it in trust.authserv_id); by default none is believed, as
on a new desk.
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from maildesk.clock import FixedClock
from maildesk.config import settings_from_mapping
from maildesk.intake import Intake
from maildesk.outcome import Outcome
from maildesk.parse import parse_mail
from maildesk.starter import starter_dir
from maildesk.store.db import make_engine, session_factory
from maildesk.store.models import Message, OutboxMessage
from maildesk.store.schema import upgrade
from maildesk.trust.authres import parse

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
ATTACKER = "mallory@evil.example"
VICTIM = "victim@innocent.example"


def desk(folder: Path, authserv: list[str], agent: str = "agent@support.example") -> Intake:
    """A desk whose agent is not an address the corpus uses (it has bob@example.com)."""
    shutil.copytree(starter_dir("templates"), folder / "templates", dirs_exist_ok=True)
    (folder / "rules").mkdir(exist_ok=True)
    settings = settings_from_mapping(
        {
            "helpdesk": {"address": "support@example.com"},
            "trust": {"authserv_id": authserv},
            "database": {"url": f"sqlite:///{folder / 'maildesk.db'}"},
            "smtp": {"spool_dir": "out"},
            # The hourly limit would silence repeat senders of the corpus: not the question.
            "outbox": {"acknowledgements_per_hour": 100000},
            "tiers": [{"name": "L1", "agents": [agent], "lead": "lead@example.com"}],
        },
        name="maildesk.toml",
        base=folder,
    )
    engine = make_engine(settings.database.url)
    upgrade(engine)
    return Intake(settings, session_factory(engine), FixedClock(T0))


def verdict(p: Intake, out: Outcome) -> tuple[str, str]:
    """(what happened, why) for one outcome."""
    if out.status == "held":
        cause = "forged agent" if out.detail.startswith("from agent") else "stranger/suspicious"
        return "held", f"{cause}: {_short(out.detail)}"
    if out.status in ("quarantined", "duplicate", "bounce"):
        return out.status, _short(out.detail)
    with p.sessions() as s:
        acked = s.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.ticket_id == out.ticket_id, OutboxMessage.kind == "acknowledgement"
            )
        )
        message = s.scalar(
            select(Message).where(Message.message_id == out.message_id).order_by(Message.id.desc())
        )
        reasons = list(message.guard_reasons) if message is not None else []
    if not out.new_ticket:
        return "reply stored", "threaded into a ticket"
    if acked is not None:
        return "acknowledged", ""
    return "silenced", _short(reasons[0]) if reasons else "a rule or the hourly limit"


def _short(text: str) -> str:
    text = re.sub(r"<[^>]*>|\S+@\S+", "…", text)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return text[:70]


def corpus_mail(root: Path) -> list[tuple[str, bytes]]:
    with (root / "INDEX.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    # Body-only samples are oracles for visible text, not mail that could arrive.
    return [
        (r["category"], (root / r["path"]).read_bytes()) for r in rows if r["form"] == "message"
    ]


def seen_authserv(mails: list[tuple[str, bytes]]) -> list[str]:
    ids: set[str] = set()
    for _, raw in mails:
        try:
            mail = parse_mail(raw)
        except Exception:
            continue
        values = mail.header_all("Authentication-Results")
        found = parse(values[0]) if values else None
        if found is not None and found.authserv_id:
            ids.add(found.authserv_id)
    return sorted(ids)


def _mail(sender: str, subject: str, msgid: str, headers: str = "", body: str = "x") -> bytes:
    return (
        f"{headers}From: {sender}\r\nTo: support@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: {msgid}\r\n\r\n{body}\r\n"
    ).encode()


def attack_cases(n: int, ack: str) -> list[tuple[str, bytes]]:
    """The attacks of issue 14 on ticket ``n`` of alice@customer.example, then the MTA
    header fixtures of tests/data/trust (their tokens pointed at ticket ``n``)."""
    fail = "Authentication-Results: mx.example.com; dmarc=fail header.from=customer.example\r\n"
    injected = "=?utf-8?q?{{_7*7_}}=0D=0ABcc=3A_v=40x=2Eexample?="
    alice, bob, token = "alice@customer.example", "bob@example.com", f"Re: [#{n}] x"
    plus = _mail(ATTACKER, "x", "<a4@e>").replace(b"support@", f"support+{n}@".encode())
    cases = [
        (
            "In-Reply-To the acknowledgement",
            _mail(ATTACKER, "x", "<a1@e>", f"In-Reply-To: {ack}\r\n"),
        ),
        (
            "References the customer's mail",
            _mail(ATTACKER, "x", "<a2@e>", "References: <alice@c>\r\n"),
        ),
        ("the ticket token", _mail(ATTACKER, token, "<a3@e>")),
        ("the plus-address", plus),
        ("the requester's From, DMARC fail", _mail(alice, token, "<a5@e>", fail)),
        ("an agent's From, not authenticated", _mail(bob, token, "<a6@e>", body="#status closed")),
        ("spam, a forged sender", _mail(VICTIM, "Win", "<a7@e>", "X-Spam-Flag: YES\r\n")),
        ("CR/LF and {{ }} in a new subject", _mail("eve@example.org", injected, "<a8@e>")),
    ]
    for path in sorted((REPO / "tests" / "data" / "trust").glob("*.eml")):
        raw = path.read_bytes().replace(b"\n", b"\r\n").replace(b"[#1]", f"[#{n}]".encode())
        cases.append((f"fixture {path.name}", raw.replace(b"support+1@", f"support+{n}@".encode())))
    return cases


def run_attacks(folder: Path) -> None:
    p = desk(folder, ["mx.example.com", "mx.google.com", "microsoft365"], "bob@example.com")
    n = p.ingest(_mail("alice@customer.example", "Contract", "<alice@c>"), "bench").ticket_id or 0
    with p.sessions() as s:
        ack = s.scalar(select(OutboxMessage.message_id).where(OutboxMessage.ticket_id == n))
    print(
        "\nattacks on ticket of alice@customer.example; authserv-ids believed: mx.example.com, "
        "mx.google.com, microsoft365 (agent: bob@example.com)"
    )
    print(f"  {'case':44} {'outcome':13} {'to strangers':>12} {'mail it caused':>26}  why")
    for label, raw in attack_cases(n, ack or ""):
        with p.sessions() as s:
            before = s.scalar(select(func.max(OutboxMessage.id))) or 0
        what, reason = verdict(p, p.ingest(raw, "bench"))
        with p.sessions() as s:
            new = s.scalars(select(OutboxMessage).where(OutboxMessage.id > before)).all()
        strangers = sum(bool({ATTACKER, VICTIM} & set(o.recipients)) for o in new)
        caused = ", ".join(sorted(o.kind for o in new)) or "none"
        print(f"  {label:44} {what:13} {strangers:>12} {caused:>26}  {reason[:50]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--trust-seen", action="store_true", help="believe the corpus' MTAs")
    args = parser.parse_args()
    mails = corpus_mail(args.corpus)
    authserv = seen_authserv(mails) if args.trust_seen else []
    with tempfile.TemporaryDirectory() as tmp:
        p = desk(Path(tmp), authserv)
        table: dict[str, Counter[str]] = defaultdict(Counter)
        why: Counter[tuple[str, str]] = Counter()
        for index, (category, raw) in enumerate(mails):
            p.clock = FixedClock(T0 + timedelta(minutes=index))
            what, reason = verdict(p, p.ingest(raw, "corpus"))
            table[category][what] += 1
            if reason:
                why[(what, reason)] += 1
        columns = ["acknowledged", "silenced", "reply stored", "held", "quarantined", "duplicate"]
        print(f"corpus: {len(mails)} mails; believed authserv-ids: {', '.join(authserv) or 'none'}")
        print(f"{'category':12}" + "".join(f"{c:>14}" for c in columns))
        total: Counter[str] = Counter()
        for category in sorted(table):
            total.update(table[category])
            print(f"{category:12}" + "".join(f"{table[category][c]:>14}" for c in columns))
        print(f"{'all':12}" + "".join(f"{total[c]:>14}" for c in columns))
        print("\nwhy (silenced, held, quarantined), most frequent first:")
        for (what, reason), count in why.most_common(25):
            print(f"{count:5}  {what:12} {reason}")
    with tempfile.TemporaryDirectory() as tmp:
        run_attacks(Path(tmp))


if __name__ == "__main__":
    main()
