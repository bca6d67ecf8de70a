"""Throwaway PostgreSQL databases on the server named by MAILDESK_TEST_POSTGRES_URL."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

URL_ENV = "MAILDESK_TEST_POSTGRES_URL"
HOW = (
    f"set {URL_ENV}, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test "
    "(a role allowed to CREATE DATABASE), and install the postgres extra"
)


def server_url() -> str | None:
    return os.environ.get(URL_ENV) or None


def create_database(base_url: str) -> str:
    """A new empty database on the server; returns its URL."""
    name = f"maildesk_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"))
    finally:
        admin.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def drop_database(base_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
