"""The `maildesk` command: one module per command group."""
