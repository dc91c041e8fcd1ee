"""Versioned schema migrations, applied at start-up and by ``postier migrate``.

How this works: ``migrations/NNNN_name.sql`` files are applied in order, each at most once,
recorded in ``schema_migrations``. All of them run in one transaction under a transaction-level
advisory lock keyed by the schema, so several nodes starting together never migrate twice and a
failed migration leaves nothing half-done (PostgreSQL's DDL is transactional). A schema already
at a version this Postier does not know was written by a newer one: refuse to touch it.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING

from postier.errors import MailError

if TYPE_CHECKING:
    from postier.store.postgres.database import Connection

__all__ = ["available", "migrate"]

_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")


def available() -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every migration shipped with this Postier, in order."""
    folder = resources.files("postier.store.postgres").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text()))
    return sorted(found)


async def migrate(conn: Connection) -> tuple[int, list[int]]:
    """Bring the schema up to date; return (version now, versions applied by this call)."""
    known = available()
    async with conn.transaction():
        schema = await conn.fetchval("SELECT current_schema()")
        if schema is None:
            path = await conn.fetchval("SHOW search_path")
            raise MailError(f"no schema to create Postier's tables in (search_path is {path}):"
                            " create it first (CREATE SCHEMA ...)")
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))",
                           f"postier-migrate:{schema}")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
            " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        applied = {int(r[0]) for r in await conn.fetch("SELECT version FROM schema_migrations")}
        newest = max(v for v, _, _ in known)
        if applied and max(applied) > newest:
            raise MailError(f"the database was written by a newer Postier (schema {max(applied)});"
                            " upgrade Postier to use it")
        done = []
        for version, name, sql in known:
            if version in applied:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                               version, name)
            done.append(version)
    return newest, done


async def migrate_dsn(dsn: str) -> tuple[int, list[int]]:
    """``postier migrate``: connect, migrate, disconnect."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
