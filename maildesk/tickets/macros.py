"""Canned answers: ``#macro NAME`` and ``#kb SLUG`` in an agent's reply.

A macro is ``templates/macros/NAME.LANGUAGE.txt``: a template with the
ticket's variables (and ``agent``), whose leading ``#`` lines are commands
too (``#status pending``, ``#tag vpn``: ticket changes only, no merge,
link, broadcast or another macro). ``#kb SLUG`` inserts a knowledge-base
article: its title, text and link. The agent's own text comes first, then
each macro or article in the order named; the whole is relayed like any
answer. ``maildesk check`` renders every macro with sample data, as it does
templates.
"""

from __future__ import annotations

from dataclasses import replace

from maildesk.commands import parse_commands
from maildesk.desk import Desk
from maildesk.mail import Commands, ParsedMail
from maildesk.store.models import Ticket

FOLDER = "macros"
INSERTS = ("macro", "kb")
# What a macro may do to the ticket; the rest needs an agent's own line.
IN_MACROS = ("status", "close", "assign", "priority", "tier", "tag", "note")


def macro_names(desk: Desk) -> list[str]:
    names = {
        name.split("/", 1)[1].split(".", 1)[0]
        for name in desk.mailer.writer.templates.sources
        if name.startswith(f"{FOLDER}/") and name.endswith(".txt")
    }
    return sorted(names)


def expand(desk: Desk, ticket: Ticket, commands: Commands, mail: ParsedMail) -> Commands:
    """The commands with every #macro and #kb replaced by what they insert."""
    if not any(c.name in INSERTS for c in commands.commands):
        return commands
    kept = [c for c in commands.commands if c.name not in INSERTS]
    texts = [commands.text.strip()] if commands.text.strip() else []
    problems = list(commands.problems)
    for command in commands.commands:
        line = f"#{command.name} {command.argument}".strip()
        if command.name == "kb":
            article = next((a for a in desk.router.kb.articles if a.slug == command.argument), None)
            if article is None:
                known = ", ".join(a.slug for a in desk.router.kb.articles[:20]) or "none"
                problems.append(f"{line}: no knowledge-base article of that name ({known})")
                continue
            texts.append(f"{article.title}\n\n{article.body.strip()}\n\n{article.url}".strip())
        elif command.name == "macro":
            found, why = _render(desk, ticket, command.argument, mail)
            if found is None:
                problems.append(f"{line}: {why}")
                continue
            inner = parse_commands(found, desk.tiers, desk.agents)
            bad = [c.name for c in inner.commands if c.name not in IN_MACROS]
            if bad or inner.problems:
                why = ", ".join(f"#{b}" for b in bad) + " not allowed in a macro" if bad else ""
                problems += [f"{line}: {p}" for p in (*inner.problems, *([why] if why else []))]
                continue
            kept += inner.commands
            if inner.text.strip():
                texts.append(inner.text.strip())
    text = "\n\n".join(texts) + "\n" if texts else ""
    return replace(commands, commands=tuple(kept), text=text, problems=tuple(problems))


def _render(desk: Desk, ticket: Ticket, name: str, mail: ParsedMail) -> tuple[str | None, str]:
    """(the macro's text in the ticket's language, "") or (None, why there is none)."""
    templates = desk.mailer.writer.templates
    wanted = [ticket.language, desk.settings.helpdesk.default_language, "en"]
    languages = [w for w in wanted if w and templates.has(f"{FOLDER}/{name}.{w}.txt")]
    if not languages:
        if name not in macro_names(desk):
            known = ", ".join(macro_names(desk)) or f"none in {templates.folder / FOLDER}"
            return None, f"no macro of that name (macros: {known})"
        language = next(
            n.split(".")[1] for n in templates.sources if n.startswith(f"{FOLDER}/{name}.")
        )
    else:
        language = languages[0]
    values = desk.mailer.context(ticket, None, mail, language)
    sender = mail.sender
    values["agent"] = {
        "name": sender.name if sender else "",
        "address": sender.address if sender else "",
    }
    try:
        text = templates.env.get_template(f"{FOLDER}/{name}.{language}.txt").render(**values)
    except Exception as exc:  # a broken macro is the agent's answer: refused, never half-sent
        return None, f"the macro does not render: {exc}"
    return text, ""
