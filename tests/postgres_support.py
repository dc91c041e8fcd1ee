"""PostgreSQL for tests: one fresh schema per test, dropped at the end.

The server is the machine's (CI runs on it): ``POSTIER_TEST_DSN`` overrides the default
``postgresql://postgres@127.0.0.1:5432/test``. A test that cannot reach it fails — it is never
skipped silently — unless ``POSTIER_TEST_POSTGRES=off`` says this machine has no PostgreSQL, in
which case the PostgreSQL variants are skipped.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


def base_dsn() -> str:
    return os.environ.get("POSTIER_TEST_DSN", DEFAULT_DSN)


def postgres_disabled() -> bool:
    return os.environ.get("POSTIER_TEST_POSTGRES", "").lower() == "off"


def require_postgres() -> None:
    if postgres_disabled():
        pytest.skip("POSTIER_TEST_POSTGRES=off: PostgreSQL tests are turned off")


def with_schema(dsn: str, schema: str) -> str:
    """``dsn`` with ``search_path`` set to ``schema`` (asyncpg passes unknown query parameters
    to the server as settings)."""
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "search_path"]
    query.append(("search_path", schema))
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _admin(statement: str) -> None:
    import asyncpg

    try:
        conn = await asyncpg.connect(base_dsn())
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"cannot reach PostgreSQL at {base_dsn()} ({exc}); start it, point"
                    " POSTIER_TEST_DSN at one, or set POSTIER_TEST_POSTGRES=off")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    """A new, empty schema; yields a DSN that uses it. Dropped (with everything) at the end."""
    require_postgres()
    schema = f"postier_test_{secrets.token_hex(6)}"
    await _admin(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_schema(base_dsn(), schema)
    finally:
        await _admin(f'DROP SCHEMA "{schema}" CASCADE')
