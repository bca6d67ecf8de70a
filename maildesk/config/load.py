"""Find, read and validate maildesk.toml, reporting every problem at once.

Each problem is one line: ``FILE: KEY: what is wrong``, e.g.
``maildesk.toml: mailboxes[0].port: expected an integer, got "abc"``.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.engine import make_url

from maildesk.config.model import Settings
from maildesk.config.semantics import semantic_problems
from maildesk.errors import Problem, UserError

CONFIG_ENV = "MAILDESK_CONFIG"
DEFAULT_CONFIG = "maildesk.toml"


def config_path(given: str | os.PathLike[str] | None) -> Path:
    """``-c PATH``, else ``$MAILDESK_CONFIG``, else ``./maildesk.toml``."""
    if given:
        return Path(given)
    from_env = os.environ.get(CONFIG_ENV)
    return Path(from_env) if from_env else Path(DEFAULT_CONFIG)


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and validate one config file; raise ``UserError`` listing every problem."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UserError(
            [
                Problem(
                    name,
                    "config file not found (give -c PATH, set MAILDESK_CONFIG, "
                    "or create one with `maildesk init DIR`)",
                )
            ]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError([Problem(name, f"cannot read config file: {_reason(exc)}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError([Problem(name, f"invalid TOML: {exc}")]) from None
    return settings_from_mapping(data, name=name, base=path.resolve().parent)


def _more_problems(data: Mapping[str, Any], error: ValidationError, base: Path) -> list[str]:
    """The semantic problems (an unknown tier, a bad listen address...) of a config
    whose structure is wrong too: the keys at fault are dropped and the rest is
    checked, so that one `maildesk check` shows everything. None when a required
    key is missing (nothing sensible is left to check)."""
    trimmed = copy.deepcopy(dict(data))
    for _ in range(5):
        for detail in error.errors():
            if detail["type"] == "missing" or not _drop(trimmed, detail["loc"]):
                return []
        try:
            settings = Settings.model_validate(trimmed, context={"base": base})
        except ValidationError as again:
            error = again
            continue
        return semantic_problems(_with_database_path(settings, base))
    return []


def _drop(data: Any, loc: tuple[Any, ...]) -> bool:
    """Remove the key at ``loc`` (a dict key under dicts and lists); False if it cannot."""
    *path, last = loc
    for step in path:
        in_list = isinstance(data, list) and isinstance(step, int) and step < len(data)
        if in_list or (isinstance(data, dict) and step in data):
            data = data[step]
        else:
            return False
    if isinstance(data, dict) and last in data:
        del data[last]
        return True
    return False


def settings_from_mapping(data: Mapping[str, Any], *, name: str, base: Path) -> Settings:
    """Validate already-parsed TOML; ``base`` is the folder relative paths start from."""
    data = dict(data)
    # Defaults are filled in through validation so that their paths resolve too.
    for table in ("database", "paths"):
        data.setdefault(table, {})
    try:
        settings = Settings.model_validate(data, context={"base": base})
    except ValidationError as exc:
        problems = [Problem(name, line) for line in explain(exc, Settings)]
        # Every problem at once: the rest checked as if the bad keys were not there.
        problems += [Problem(name, line) for line in _more_problems(data, exc, base)]
        raise UserError(problems) from None
    settings = _with_database_path(settings, base)
    problems = [Problem(name, line) for line in semantic_problems(settings)]
    if problems:
        raise UserError(problems)
    settings._source = Path(name)
    return settings


def _with_database_path(settings: Settings, base: Path) -> Settings:
    """``sqlite:///maildesk.db`` means next to the config file, like every other path."""
    try:
        url = make_url(settings.database.url)
    except Exception:  # semantics.py reports the bad URL
        return settings
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return settings
    if database.startswith("file:") or Path(database).is_absolute():
        return settings
    fixed = url.set(database=str(base / database)).render_as_string(hide_password=False)
    return settings.model_copy(
        update={"database": settings.database.model_copy(update={"url": fixed})}
    )


def explain(exc: ValidationError, model: type[BaseModel]) -> list[str]:
    """Pydantic's errors as ``key.path: what is wrong`` lines a person can act on."""
    lines = []
    for error in exc.errors(include_url=False):
        key = key_path(error["loc"])
        lines.append(f"{key}: {_message(error, model)}" if key else _message(error, model))
    return lines


# Pydantic puts union members and validator names into error locations;
# they are not keys the user wrote. No maildesk key is named like these.
_NOT_KEYS = {"int", "str", "bool", "none", "float", "list", "tuple", "constrained-int"}


def key_path(loc: Sequence[int | str]) -> str:
    """('mailboxes', 0, 'port') -> 'mailboxes[0].port'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _NOT_KEYS or "[" in part:
            continue
        else:
            out += f".{part}" if out else part
    return out


_EXPECTED = {
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected a whole number",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "float_type": "expected a number",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "path_type": "expected a path (a string)",
    "is_instance_of": "expected a path (a string)",
}


def _message(error: ErrorDetails, model: type[BaseModel]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = show_value(error.get("input"))
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key" + _suggestion(error["loc"], model)
    if kind in _EXPECTED:
        return f"{_EXPECTED[kind]}, got {got}"
    if kind == "literal_error":
        choices = str(ctx.get("expected", "?")).replace(" or ", ", ").replace("'", '"')
        return f"expected one of {choices}; got {got}"
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        return f"{error['msg'].removeprefix('Input should be ')}, got {got}".replace(
            "greater than or equal to", "expected at least"
        ).replace("less than or equal to", "expected at most")
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return f"{error['msg'][:1].lower()}{error['msg'][1:]}, got {got}"


def show_value(value: Any) -> str:
    """A value as the user would have typed it in TOML."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _suggestion(loc: Sequence[int | str], model: type[BaseModel]) -> str:
    """Name the closest known key: 'pasword' -> did you mean "password"?"""
    known = _known_keys(loc[:-1], model)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    if close:
        return f' (did you mean "{close[0]}"?)'
    return f" (known keys: {', '.join(sorted(known))})" if known else ""


def _known_keys(parent: Sequence[int | str], model: type[BaseModel]) -> list[str]:
    current: Any = model
    for part in parent:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", {})
        field = fields.get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    if not (isinstance(current, type) and issubclass(current, BaseModel)):
        return []
    return list(current.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, looking through Optional, tuple[...] and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or getattr(annotation, "__metadata__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    origin = getattr(annotation, "__origin__", None)
    return _model_in(origin) if origin is not None and origin is not annotation else None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 (byte {exc.start})"
    return str(exc)
