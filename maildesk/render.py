"""Templates: a sandboxed Jinja2 where an unknown variable is an error, not a blank.

The sandbox matters because template authors are admins, but the values
(subject, name, body) come from customers: they are data, never code.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from maildesk.errors import Problem

TEMPLATE_SUFFIXES = (".txt", ".html")


def template_environment(folder: Path) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        undefined=StrictUndefined,
        autoescape=lambda name: bool(name and name.endswith(".html")),
        keep_trailing_newline=True,
    )


def template_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in TEMPLATE_SUFFIXES)


def template_problems(folder: Path) -> list[Problem]:
    """Every template that does not compile, as ``file:line: problem``."""
    if not folder.is_dir():
        return [Problem(str(folder), "templates folder not found")]
    env = template_environment(folder)
    problems = []
    for path in template_files(folder):
        name = path.relative_to(folder).as_posix()
        try:
            env.get_template(name)
        except TemplateSyntaxError as exc:
            problems.append(Problem(f"{path}:{exc.lineno}", exc.message or "syntax error"))
        except UnicodeDecodeError as exc:
            problems.append(Problem(str(path), f"not UTF-8 (byte {exc.start})"))
    return problems
