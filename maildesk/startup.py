"""Everything checked before the daemon starts, and again before a SIGHUP reload."""

from __future__ import annotations

from maildesk.config import Settings, secret_problems
from maildesk.errors import Problem
from maildesk.render import TemplateSet
from maildesk.routing.router import Router


def startup_problems(settings: Settings, *, secrets: bool = True) -> tuple[Router, list[Problem]]:
    """The loaded router and every problem with passwords, rules, articles and templates."""
    router, trouble = Router.load(settings)
    templates = TemplateSet(settings.paths.templates)
    return router, [
        *(secret_problems(settings) if secrets else []),
        *trouble,
        *templates.check(settings.helpdesk.default_language),
    ]
