"""Archives to import: an mbox file or a Maildir folder, message by message.

Messages come out in the order of their Date header, so that a reply is
threaded after the message it answers, as it would have been live (a
Maildir has no order of its own).
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from maildesk.errors import Problem, UserError


def archive_messages(path: Path) -> tuple[int, Iterator[bytes]]:
    """(how many, the raw messages) for an mbox file or a Maildir folder."""
    box: mailbox.Mailbox
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise UserError([Problem(str(path), "not a Maildir (no cur/ or new/ inside)")])
        box = mailbox.Maildir(str(path), factory=None, create=False)
    elif path.is_file():
        with path.open("rb") as f:
            head = f.read(5)
        if head and head != b"From ":
            raise UserError(
                [Problem(str(path), 'not an mbox file (it does not start with "From ")')]
            )
        box = mailbox.mbox(str(path), factory=None, create=False)
    else:
        raise UserError([Problem(str(path), "no such file or folder")])
    keys = _in_date_order(box)

    def messages() -> Iterator[bytes]:
        try:
            for key in keys:
                yield box.get_bytes(key)
        finally:
            box.close()

    return len(keys), messages()


# The Date header in a mail's header block (folded lines included), found without
# parsing the headers: this pass reads every mail before the first is stored.
_HEADERS_END = re.compile(rb"\r?\n\r?\n")
_DATE = re.compile(rb"^date:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


def _in_date_order(box: mailbox.Mailbox) -> list[str]:
    dated: list[tuple[datetime, int, str]] = []
    oldest = datetime.min.replace(tzinfo=UTC)
    for index, key in enumerate(box.keys()):
        when = oldest
        try:
            head = _HEADERS_END.split(box.get_bytes(key), 1)[0]
            found = _DATE.search(head)
            if found:
                value = found.group(1).decode("ascii", "replace")
                parsed = parsedate_to_datetime(" ".join(value.split()))
                when = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except Exception:  # an unreadable date sorts first; the pipeline judges the rest
            pass
        dated.append((when, index, key))
    return [key for _, _, key in sorted(dated)]
