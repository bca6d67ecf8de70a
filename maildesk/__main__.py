"""`python -m maildesk` is the same as the `maildesk` command."""

from maildesk.cli.main import entry

entry()
