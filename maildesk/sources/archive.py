"""Archives to import: an mbox file or a Maildir folder, message by message."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
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
    keys = list(box.keys())

    def messages() -> Iterator[bytes]:
        try:
            for key in keys:
                yield box.get_bytes(key)
        finally:
            box.close()

    return len(keys), messages()
