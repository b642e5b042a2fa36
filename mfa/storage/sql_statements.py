"""Every statement ``SqlRepository`` runs, built once per dialect with SQLAlchemy Core.

They are run with ``Connection.execute(statement, parameters)``, so SQLAlchemy compiles each
once and keeps it in its compiled cache; parameters are bound by name: ``k`` for the key a
query looks up, a column's name for a value written. Upserts use the dialect's
``INSERT … ON CONFLICT`` (SQLite and PostgreSQL spell it alike).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mfa.storage.schema import (
    accounts,
    app_passwords,
    auth_log,
    methods,
    security_states,
    tokens,
    user_changes,
    users,
)

__all__ = ["STATE_VALUES", "Statements", "statements_for", "vars_of"]

Statement = Any  # an executable SQLAlchemy Core construct
#: The security state's columns that hold its counters (all but the key).
STATE_VALUES = tuple(c for c in security_states.columns if c.name != "user_id")


@dataclass(frozen=True, slots=True)
class Statements:
    """The repository's statements for one dialect, by what they do."""

    get_user: Statement
    #: user, security state and methods in one query: one row per method (or one row
    #: with empty method columns), the state's columns empty when it has no row yet
    sign_in_facts: Statement
    save_user: Statement
    all_users: Statement
    save_method: Statement
    list_methods: Statement
    delete_methods: Statement
    save_token: Statement
    get_token: Statement
    get_state: Statement
    save_state: Statement
    lock_state: Statement
    ensure_state: Statement
    #: compare-and-set: the state's columns to the given values if they still hold the
    #: ``was_*`` values (see ``SqlRepository.update_state``)
    swap_state: Statement
    #: the state's row, unless it exists: returns its key if it was created
    create_state: Statement
    app_password_hashes: Statement
    delete_app_passwords: Statement
    save_log: Statement
    all_logs: Statement
    logs_since: Statement
    active_account: Statement
    all_accounts: Statement
    save_account: Statement
    all_changes: Statement


def statements_for(dialect: str) -> Statements:
    """The statements for ``"sqlite"`` or ``"postgresql"``."""
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert

    def upsert(table: sa.Table, key: str) -> Statement:
        stmt = insert(table)
        columns = [c.name for c in table.columns if c.name not in ("id", key)]
        return stmt.on_conflict_do_update(
            index_elements=[table.c[key]], set_={c: stmt.excluded[c] for c in columns}
        )

    return Statements(
        get_user=_by(users, "user_id"),
        sign_in_facts=sa.select(users, security_states, methods)
        .select_from(
            users.outerjoin(
                security_states, security_states.c.user_id == users.c.user_id
            ).outerjoin(methods, methods.c.user_id == users.c.user_id)
        )
        .where(users.c.user_id == sa.bindparam("k"))
        .order_by(methods.c.id),
        save_user=upsert(users, "user_id"),
        all_users=sa.select(users).order_by(users.c.user_id),
        save_method=upsert(methods, "method_id"),
        list_methods=_by(methods, "user_id").order_by(methods.c.id),
        delete_methods=_delete(methods),
        save_token=upsert(tokens, "serial"),
        get_token=_by(tokens, "serial"),
        get_state=_by(security_states, "user_id"),
        save_state=upsert(security_states, "user_id"),
        # FOR UPDATE renders as nothing on SQLite, where BEGIN IMMEDIATE locks instead
        lock_state=_by(security_states, "user_id").with_for_update(),
        ensure_state=insert(security_states).on_conflict_do_nothing(
            index_elements=[security_states.c.user_id]
        ),
        swap_state=security_states.update().where(
            security_states.c.user_id == sa.bindparam("k"),
            *(c == sa.bindparam(f"was_{c.name}") for c in STATE_VALUES),
        ),
        # RETURNING, because drivers report no row count for an INSERT … ON CONFLICT
        create_state=insert(security_states)
        .on_conflict_do_nothing(index_elements=[security_states.c.user_id])
        .returning(security_states.c.user_id),
        app_password_hashes=sa.select(app_passwords.c.password_hash)
        .where(app_passwords.c.user_id == sa.bindparam("k"))
        .order_by(app_passwords.c.id),
        delete_app_passwords=_delete(app_passwords),
        save_log=_merge_log(insert),
        all_logs=sa.select(auth_log).order_by(auth_log.c.began_at, auth_log.c.id),
        logs_since=sa.select(auth_log)
        .where(auth_log.c.began_at >= sa.bindparam("since"))
        .order_by(auth_log.c.began_at, auth_log.c.id),
        active_account=sa.select(accounts)
        .where(accounts.c.ended_at.is_(None))
        .order_by(accounts.c.created_at.desc()),
        all_accounts=sa.select(accounts).order_by(accounts.c.created_at, accounts.c.name),
        save_account=upsert(accounts, "name"),
        all_changes=sa.select(user_changes).order_by(user_changes.c.at, user_changes.c.id),
    )


def _merge_log(insert: Any) -> Statement:
    """Insert a log record, or merge it with the stored one as ``mfa.auth_log.merged``
    does: the columns of the record further on (ended first, then more attempts; on a tie
    the new one), the provider of whichever has one."""
    statement = insert(auth_log)
    new, old = statement.excluded, auth_log.c

    # ``mfa.auth_log.progress`` (ended, then attempts) as row values, which compare in
    # order. "Ended" is read as "the other side's completed_at IS NULL" (it orders the same)
    # to keep the statement within the 4,096 bytes psycopg caches the parsed form of.
    further = sa.tuple_(old.completed_at.is_(None), new.attempts) >= sa.tuple_(
        new.completed_at.is_(None), old.attempts
    )
    kept = {
        c.name: sa.case((further, new[c.name]), else_=old[c.name])
        for c in auth_log.columns
        if c.name not in ("id", "auth_id", "provider")
    }
    return statement.on_conflict_do_update(
        index_elements=[auth_log.c.auth_id],
        set_={**kept, "provider": sa.func.coalesce(old.provider, new.provider)},
    )


def _by(table: sa.Table, column: str) -> sa.Select[Any]:
    return sa.select(table).where(table.c[column] == sa.bindparam("k"))


def _delete(table: sa.Table) -> Statement:
    return table.delete().where(table.c.user_id == sa.bindparam("k"))


def vars_of(statements: Statements) -> list[Statement]:
    """Every statement of the set (the objects themselves: ``dataclasses.astuple`` copies)."""
    return [getattr(statements, f.name) for f in fields(statements)]
