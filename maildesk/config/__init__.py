"""Configuration: maildesk.toml, validated before anything starts."""

from maildesk.config.load import config_path, load_settings, settings_from_mapping
from maildesk.config.model import Settings
from maildesk.config.secrets import mailbox_secret, read_password, secret_problems

__all__ = [
    "Settings",
    "config_path",
    "load_settings",
    "mailbox_secret",
    "read_password",
    "secret_problems",
    "settings_from_mapping",
]
