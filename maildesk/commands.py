"""Commands at the top of an agent's mail: "#status resolved", "#assign me", ...

Commands are the leading lines that start with "#"; the first other line
ends them. Parsing is pure: it returns the commands, the text without them,
or the problems (then nothing is relayed and the agent is told why).
"""

from __future__ import annotations

import re

from maildesk.mail import PRIORITIES, TICKET_STATUSES, Command, Commands

HELP = """Commands (one per line, at the top of your reply):
  #status open|pending|resolved|closed
  #assign me|ADDRESS   (ADDRESS: an agent of this desk)
  #priority urgent|high|normal|low
  #tier NAME
  #tag NAME
  #note      (the whole mail is an internal note: no customer sees it)
  #close     (the same as #status closed)
  #admit ADDRESS   (ADDRESS joins the ticket; its held mail goes in)
  #reject ADDRESS  (ADDRESS's held mail stays out of the ticket)
  #merge NUMBER    (this ticket is folded into ticket NUMBER; its customer is told)
  #problem [NUMBER...]  (this ticket is a known problem; those tickets its incidents)
  #link NUMBER     (this ticket is an incident of problem NUMBER; also #incident-of)
  #broadcast       (your answer on a problem also goes to every incident's customers)
  #macro NAME      (a canned answer from templates/macros/, with its commands)
  #kb SLUG         (a knowledge-base article, its text and link)"""

_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
_LINE = re.compile(r"^#([A-Za-z][A-Za-z-]*[A-Za-z]|[A-Za-z])(?![\w-])\s*(.*)$")


def parse_commands(
    text: str, tiers: frozenset[str], agents: frozenset[str] | None = None
) -> Commands:
    """``agents``: who a ticket may be assigned to (None: anyone, for tests of syntax)."""
    lines = text.replace("\r\n", "\n").split("\n")
    commands: list[Command] = []
    problems: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if not line:
            index += 1
            continue
        match = _LINE.match(line)
        if not match:
            break
        name, argument = match.group(1).lower(), match.group(2).strip()
        problem = _check(name, argument, tiers, agents)
        if problem:
            problems.append(f"{line}: {problem}")
        else:
            commands.append(Command(name, argument))
        index += 1
    rest = "\n".join(lines[index:]).strip("\n")
    return Commands(tuple(commands), rest + "\n" if rest else "", tuple(problems))


def _check(
    name: str, argument: str, tiers: frozenset[str], agents: frozenset[str] | None
) -> str | None:
    if name == "status":
        if argument.lower() not in TICKET_STATUSES or argument.lower() == "new":
            return "status must be open, pending, resolved or closed"
    elif name == "assign":
        if argument.lower() != "me" and not _ADDRESS.match(argument):
            return "assign needs me or an e-mail address"
        if argument.lower() != "me" and agents is not None and argument.lower() not in agents:
            # The assignee hears every customer reply: never someone outside the desk.
            return f"{argument} is not an agent of this desk (see [[tiers]] in maildesk.toml)"
    elif name == "priority":
        if argument.lower() not in PRIORITIES:
            return f"priority must be one of {', '.join(PRIORITIES)}"
    elif name == "tier":
        if argument not in tiers:
            return f"unknown tier (tiers: {', '.join(sorted(tiers)) or 'none'})"
    elif name == "tag":
        if not argument or " " in argument:
            return "tag needs one word"
    elif name in ("admit", "reject"):
        if not _ADDRESS.match(argument):
            return f"{name} needs an e-mail address"
    elif name == "merge":
        if merge_target(argument) is None:
            return "merge needs the number of the ticket to merge into (#merge 1042)"
    elif name == "problem":
        if argument and not _numbers(argument):
            return "problem takes ticket numbers, or nothing (#problem 1043 1044)"
    elif name in ("link", "incident-of"):
        if merge_target(argument) is None:
            return f"{name} needs the number of the problem ticket (#{name} 1042)"
    elif name in ("macro", "kb"):
        if not argument or " " in argument:
            return f"{name} needs one name (#{name} NAME)"
    elif name in ("note", "close", "broadcast"):
        if argument:
            return f"#{name} takes no argument"
    else:
        return "unknown command"
    return None


_TICKET = re.compile(r"^\[?#?(\d{1,9})\]?$")


def merge_target(argument: str) -> int | None:
    """``1042``, ``#1042`` or ``[#1042]`` -> 1042."""
    match = _TICKET.match(argument.strip())
    return int(match.group(1)) if match else None


def _numbers(argument: str) -> bool:
    words = argument.replace(",", " ").split()
    return bool(words) and all(merge_target(w) is not None for w in words)
