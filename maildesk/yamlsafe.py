"""YAML written by admins (rules, customers, articles' front matter), read safely.

A YAML alias can expand a few lines into gigabytes ("billion laughs"), and a
huge file takes the pure-Python parser minutes: both are refused before
anything is built, with the line or the size, so that `maildesk check` and a
live reload answer at once and never run out of memory. libyaml parses when
it is there (PyYAML's wheels carry it), ten times faster than pure Python.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError

Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_BYTES = 2 * 1024 * 1024  # a desk's rules are kilobytes; megabytes are a mistake


def size_problem(text: str) -> str | None:
    """Why a file is too large to read, or None."""
    size = len(text.encode("utf-8", "replace"))
    if size <= MAX_BYTES:
        return None
    return f"{size / 1e6:.1f} MB is too large (the limit is {MAX_BYTES // (1024 * 1024)} MB)"


def refuse_aliases(text: str) -> None:
    """Raise a MarkedYAMLError (with the line) at the first alias or syntax error: one
    parse, no building. A syntax error is told in pure-Python PyYAML's words, which
    say what was found where libyaml's only say what was expected."""
    try:
        _scan(text, Loader)
    except yaml.YAMLError:
        _scan(text, yaml.SafeLoader)
        raise


def _scan(text: str, loader: type[yaml.SafeLoader]) -> None:
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            at = event.start_mark  # libyaml's own Mark type: copied into PyYAML's
            mark = yaml.error.Mark("", at.index, at.line, at.column, "", 0) if at else None
            raise ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed: write the value out", mark
            )


def loader_for(text: str) -> yaml.SafeLoader:
    """A loader for ``text`` after the alias check (the caller disposes of it)."""
    refuse_aliases(text)
    return Loader(text)


def safe_load(text: str) -> Any:
    """yaml.safe_load without aliases; raises yaml.YAMLError with a mark as it does."""
    loader = loader_for(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
