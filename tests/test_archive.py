"""sources/archive.py: an archive's mails come out in the order of their Date headers,
whatever the file's order; a folded Date counts, a missing or broken one sorts first."""

from __future__ import annotations

import mailbox
from pathlib import Path

from maildesk.sources.archive import archive_messages


def mail(name: str, date: str | None) -> bytes:
    head = f"From: {name}@example.org\r\nSubject: {name}\r\n"
    if date is not None:
        head += f"Date: {date}\r\n"
    # A Date line in the body is not the header's.
    return (head + "\r\nDate: Mon, 1 Jan 2001 00:00:00 +0000\r\n").encode()


MAILS = [
    mail("third", "Tue, 03 Nov 2026 10:00:00 +0000"),
    mail("folded", "Mon, 02 Nov 2026\r\n 10:00:00 +0000"),
    mail("undated", None),
    mail("first", "Mon, 02 Nov 2026 09:00:00 +0100"),  # 08:00 UTC
    mail("broken", "yesterday, around noon"),
    mail("late", "Tue, 03 Nov 2026 11:00:00 +0000"),
]


def names(raws: list[bytes]) -> list[str]:
    return [r.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode() for r in raws]


def test_an_mbox_comes_out_by_date(tmp_path: Path) -> None:
    box = mailbox.mbox(str(tmp_path / "a.mbox"))
    for raw in MAILS:
        box.add(raw)
    box.close()
    total, messages = archive_messages(tmp_path / "a.mbox")
    assert total == 6
    assert names(list(messages)) == ["undated", "broken", "first", "folded", "third", "late"]


def test_a_maildir_comes_out_by_date(tmp_path: Path) -> None:
    box = mailbox.Maildir(str(tmp_path / "md"))
    for raw in reversed(MAILS):
        box.add(raw)
    total, messages = archive_messages(tmp_path / "md")
    got = names(list(messages))
    assert total == 6 and got[2:] == ["first", "folded", "third", "late"]
    assert set(got[:2]) == {"undated", "broken"}
