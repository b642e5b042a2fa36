"""Where storage lives: database and store addresses, checked before anything connects.

A mistyped ``MFALAB_DB_URL`` or ``MFALAB_PENDING`` should fail at start-up with a sentence
naming the setting, not deep inside a driver. Passwords are masked whenever an address is
shown.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from mfa.errors import InvalidInput, MfaError

__all__ = ["StorageUnavailable", "database_url", "shown"]

_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


class StorageUnavailable(MfaError):
    """The database or store could not be reached or set up."""


def shown(url: str | URL) -> str:
    """The address with its password masked, fit for messages and logs."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError, TypeError):  # shown as its scheme only
        return str(url).split("://", 1)[0] + "://…"


def database_url(url: str, *, setting: str = "MFALAB_DB_URL") -> URL:
    """Parse and normalise a database URL.

    ``sqlite:///path`` (the parent directory is created) and ``postgresql+psycopg://``;
    ``postgresql://`` and ``postgres://`` are rewritten to the psycopg 3 driver, the one
    mfalab ships with.
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(setting, "a database URL is required, e.g. sqlite:///var/mfalab.db")
    try:
        parsed = sa.make_url(url.strip())
    except sa.exc.ArgumentError:
        raise InvalidInput(
            setting,
            f"{shown(url)!r} is not a database URL; use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST:PORT/DB",
        ) from None
    scheme = parsed.drivername
    if scheme in _POSTGRES_SCHEMES:
        if not parsed.database:
            raise InvalidInput(setting, f"{shown(parsed)!r} names no database")
        return parsed.set(drivername="postgresql+psycopg")
    if scheme in ("sqlite", "sqlite+pysqlite"):
        database = parsed.database or ""
        if database in ("", ":memory:") or "mode=memory" in str(parsed):
            raise InvalidInput(
                setting,
                "an in-memory SQLite database is private to one connection; "
                "use 'memory' for an in-process repository or sqlite:///PATH for a file",
            )
        parent = Path(database).expanduser().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(setting, f"cannot create directory {str(parent)!r}: {exc}") from None
        return parsed.set(drivername="sqlite+pysqlite")
    raise InvalidInput(
        setting,
        f"unsupported database {scheme!r} in {shown(parsed)!r}; "
        "use sqlite:///PATH or postgresql+psycopg://…",
    )
