"""Poison mail (issue 20): no single message may block a source or be dropped.

Each mail here once stopped a source for ever or vanished: text the database
refuses (codecs that are not charsets, NUL bytes, lone surrogates), MIME nested
a thousand deep, a Message-ID reused by a different mail. They go through real
Dovecot, the daemon's own SMTP listener, `maildesk ingest` and `maildesk import`
on SQLite and PostgreSQL; every one must end stored or quarantined, with the
same result on both databases, and the mail after it must be stored too.
"""

from __future__ import annotations

import json
import mailbox
import smtplib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from maildesk.intake import Intake
from maildesk.sources.imap import MailboxReader
from maildesk.store.db import session_factory
from maildesk.store.models import Event, Message, QuarantinedMessage
from tests.support.desks import Run
from tests.support.dovecot import Account, Dovecot
from tests.support.sources import append, folder_count, listening, mail, settings_for

HEAD = b"From: %s\r\nTo: support@example.com\r\nSubject: %s\r\nMessage-ID: %s\r\n"


def poison(sender: bytes, subject: bytes, msgid: bytes, rest: bytes = b"\r\nbody\r\n") -> bytes:
    return HEAD % (sender, subject, msgid) + rest


def deep(levels: int) -> bytes:
    opened = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(levels)
    )
    closed = b"".join(b"--b%d--\r\n" % i for i in reversed(range(levels)))
    return (
        poison(b"deep@example.org", b"Nested", b"<deep@x>", b"MIME-Version: 1.0\r\n")
        + opened
        + b"Content-Type: text/plain\r\n\r\nThe printer is still broken.\r\n"
        + closed
    )


# name -> (raw mail, what the customer's text must contain once stored)
POISON: dict[str, tuple[bytes, str]] = {
    # The 120-byte mail of the issue: its Message-ID decodes to a lone surrogate.
    "unicode_escape message-id": (
        poison(b"a@example.org", b"hi", b"=?unicode_escape?q?=5Cud800x?="),
        "body",
    ),
    "unicode_escape subject": (
        poison(b"b@example.org", b"=?unicode_escape?q?=5Cx00=5Cud800?=", b"<p2@x>"),
        "body",
    ),
    "NUL in subject, body and name": (
        poison(b'"Ann\x00ie" <c@example.org>', b"Print\x00er", b"<p3@x>", b"\r\nbro\x00ken\r\n"),
        "ken",  # Dovecot hands out a NUL as 0x80 (IMAP has no NUL); the others drop it
    ),
    "unicode_escape body": (
        poison(
            b"d@example.org",
            b"Body",
            b"<p4@x>",
            b"Content-Type: text/plain; charset=unicode_escape\r\n\r\n\\ud800 \\x00 help\r\n",
        ),
        "help",
    ),
    "utf-7 lone surrogate": (
        poison(
            b"e@example.org",
            b"=?utf-7?q?+2AA-?=",
            b"<p5@x>",
            b"Content-Type: text/plain; charset=utf-7\r\n\r\nhelp +2AA- me\r\n",
        ),
        "help",
    ),
    "charset undefined": (
        poison(
            b"f@example.org",
            b"=?undefined?q?x?=",
            b"<p6@x>",
            b"Content-Type: text/plain; charset=undefined\r\n\r\nundefined help\r\n",
        ),
        "undefined help",
    ),
    "charset punycode": (
        poison(
            b"g@example.org",
            b"=?punycode?q?bcher-kva?=",
            b"<p7@x>",
            b"Content-Type: text/plain; charset=punycode\r\n\r\nbcher-kva\r\n",
        ),
        "bcher-kva",
    ),
    "zlib and rot13 words": (
        poison(
            b"h@example.org", b"=?zlib_codec?b?eJzLSM3JyQcABiwCFQ==?= =?rot13?q?uryyb?=", b"<p8@x>"
        ),
        "body",
    ),
    "unicode_escape file name": (
        poison(
            b"i@example.org",
            b"File",
            b"<p9@x>",
            b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="z"\r\n\r\n'
            b"--z\r\nContent-Type: text/plain\r\n\r\nsee file\r\n--z\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment; filename*=unicode_escape''%5Cud800%5Cx00.txt\r\n"
            b"\r\nAAAA\r\n--z--\r\n",
        ),
        "see file",
    ),
    "MIME 1,000 deep": (deep(1000), "printer is still broken"),
}


def outcome_table(engine: Engine) -> dict[str, tuple[str, str]]:
    """Message-ID or sender -> (where it is, its text), for comparing databases."""
    with session_factory(engine)() as s:
        found = {
            m.from_address: ("message", m.full_text)
            for m in s.scalars(select(Message).order_by(Message.id))
        }
        for q in s.scalars(select(QuarantinedMessage)):
            found[q.sender or q.reason] = ("quarantine", q.reason)
    return found


def sender_of(raw: bytes) -> str:
    """The plain From address of a poison mail (NUL bytes are dropped when stored)."""
    line = next(x for x in raw.split(b"\r\n") if x.startswith(b"From: "))
    return line[6:].decode().replace("\x00", "").split("<")[-1].rstrip(">")


def check_every_poison_stored(engine: Engine) -> None:
    table = outcome_table(engine)
    for name, (raw, text) in POISON.items():
        assert sender_of(raw) in table, f"{name}: not stored"
        where, stored_text = table[sender_of(raw)]
        assert where == "message" and text in stored_text, f"{name}: {where} {stored_text!r}"


def test_poison_over_imap_moves_on(
    engine: Engine, db_url: str, dovecot: Dovecot, imap_account: Account
) -> None:
    raws = [mail(1), *(raw for raw, _ in POISON.values()), mail(2)]
    append(dovecot, imap_account, raws)
    settings = settings_for(db_url, dovecot, imap_account)
    reader = MailboxReader(
        settings.mailboxes[0],
        Intake(settings, session_factory(engine)),
        lambda: imap_account.password,
        batch_size=4,
    )
    started = time.monotonic()
    try:
        assert reader.process_pending() == len(raws)
    finally:
        reader.close()
    seconds = time.monotonic() - started
    assert folder_count(dovecot, imap_account, "INBOX") == 0
    check_every_poison_stored(engine)
    table = outcome_table(engine)
    assert table["c1@example.org"][0] == table["c2@example.org"][0] == "message"
    print(f"{len(raws)} mails, {len(POISON)} of them poison, read in {seconds:.2f}s")


def test_poison_over_smtp_is_answered_250(engine: Engine, db_url: str) -> None:
    pipeline = Intake(settings_for(db_url), session_factory(engine))
    with listening(pipeline) as port, smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        for raw, _ in POISON.values():
            client.ehlo_or_helo_if_needed()
            client.mail("x@example.org")
            client.rcpt("support@example.com")
            code, answer = client.data(raw)
            assert code == 250, answer
    check_every_poison_stored(engine)


def test_sqlite_and_postgresql_keep_the_same_mail(tmp_path: Path, postgres_url: str) -> None:
    """The NUL mail was stored on SQLite but quarantined on PostgreSQL."""
    from maildesk.store.db import make_engine
    from maildesk.store.schema import upgrade

    tables = []
    for url in (f"sqlite:///{tmp_path / 'same.db'}", postgres_url):
        engine = make_engine(url)
        upgrade(engine)
        pipeline = Intake(settings_for(url), session_factory(engine))
        for raw, _ in POISON.values():
            pipeline.ingest(raw, "test")
        tables.append(outcome_table(engine))
        with session_factory(engine)() as s:
            nul = s.scalars(select(Message).where(Message.from_address == "c@example.org")).one()
            assert (nul.subject, nul.from_name, nul.full_text) == ("Printer", "Annie", "broken\n")
            assert b"bro\x00ken" in nul.raw  # the bytes as they came
        engine.dispose()
    assert tables[0] == tables[1]
    check_every_poison_stored(engine)


def test_ingest_and_import_take_poison(
    run: Run, write_desk: Callable[..., Path], tmp_path: Path, minimal_config: Callable[[], str]
) -> None:
    config = write_desk(minimal_config())
    run("-c", str(config), "db", "upgrade")
    first = tmp_path / "poison.eml"
    first.write_bytes(POISON["unicode_escape message-id"][0])
    code, out, err = run("-c", str(config), "ingest", str(first))
    assert code == 0 and out.startswith("stored ticket 1"), err
    archive = tmp_path / "old.mbox"
    box = mailbox.mbox(str(archive))
    for raw, _ in POISON.values():
        box.add(raw)
    box.add(mail(1))
    box.close()
    code, out, err = run("-c", str(config), "import", str(archive), "--json")
    assert code == 0, err
    counts = json.loads(out)
    assert counts["total"] == len(POISON) + 1
    assert counts["stored"] + counts["duplicate"] == len(POISON) + 1


# --- Message-ID reuse ------------------------------------------------------------


def test_a_reused_message_id_is_stored_not_dropped(engine: Engine, db_url: str) -> None:
    pipeline = Intake(settings_for(db_url), session_factory(engine))
    first = poison(b"ann@example.org", b"Printer", b"<same@x>", b"\r\nThe printer jams.\r\n")
    # The same mail through a second mailbox: other trace headers, CRLF become LF.
    again = (b"Received: from mx2 by mx3\r\nDelivered-To: help@example.com\r\n" + first).replace(
        b"\r\n", b"\n"
    )
    other = poison(b"bob@example.org", b"Invoice", b"<same@x>", b"\r\nMy invoice is wrong.\r\n")
    outcomes = [pipeline.ingest(raw, "test").status for raw in (first, again, other, other)]
    assert outcomes == ["stored", "duplicate", "stored", "duplicate"]
    with session_factory(engine)() as s:
        texts = list(s.scalars(select(Message.full_text).order_by(Message.id)))
        assert [t.strip() for t in texts] == ["The printer jams.", "My invoice is wrong."]
        [event] = s.scalars(select(Event).where(Event.kind == "message_id_reused"))
        assert event.detail["message_id"] == "<same@x>"
        assert event.detail["stored_as"].startswith("<same@x>~")


def test_a_reused_message_id_over_smtp(engine: Engine, db_url: str) -> None:
    pipeline = Intake(settings_for(db_url), session_factory(engine))
    with listening(pipeline) as port, smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        for body in (b"First question.", b"A different question."):
            raw = poison(b"ann@example.org", b"Q", b"<reused@x>", b"\r\n" + body + b"\r\n")
            client.sendmail("ann@example.org", ["support@example.com"], raw)
    with session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 2


@pytest.mark.parametrize("levels", [60, 1000])
def test_deep_mime_keeps_its_text(levels: int) -> None:
    from maildesk.parse import parse_mail

    parsed = parse_mail(deep(levels))
    assert "printer is still broken" in parsed.text


@pytest.mark.parametrize(
    "label",
    [
        "unicode_escape",
        "raw_unicode_escape",
        "punycode",
        "idna",
        "undefined",
        "rot13",
        "zlib_codec",
        "base64",
        "hex",
        "bz2",
        "uu",
        "quopri",
        "charmap",
    ],
)
def test_codecs_that_are_not_charsets_are_never_used(label: str) -> None:
    from maildesk.charsets import codec_name, decode_bytes

    assert codec_name(label) is None
    assert decode_bytes(b"\\ud800 \\x00 caf\xc3\xa9", label) == "\\ud800 \\x00 café"


def test_a_quarantine_that_fails_keeps_the_bare_bytes(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storing fails, and so does quarantining with what was decoded: the raw bytes
    and a reason are still kept, and the source may acknowledge the mail."""
    from maildesk import intake, pipeline

    def broken_store(*args: object, **kwargs: object) -> None:
        raise ValueError("the database refuses this text")

    quarantine = intake.quarantine

    def picky_quarantine(*args: object, **kwargs: object) -> object:
        if kwargs.get("message_id") is not None:
            raise ValueError("the database refuses this Message-ID")
        return quarantine(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "store_message", broken_store)
    monkeypatch.setattr(intake, "quarantine", picky_quarantine)
    raw = poison(b"k@example.org", b"Bare", b"<bare@x>")
    outcome = Intake(settings_for(db_url), session_factory(engine)).ingest(raw, "test")
    assert outcome.status == "quarantined"
    with session_factory(engine)() as s:
        [row] = s.scalars(select(QuarantinedMessage))
        assert row.raw == raw and row.message_id is None
        assert row.reason == "could not be stored: ValueError"
