"""The relational schema behind ``SqlRepository``: one table per record type.

SQLAlchemy Core tables, portable between SQLite and PostgreSQL. Rows that need a stable
order (methods, app passwords, log records) get an integer surrogate key assigned on first
insert; an upsert keeps it, so order is insertion order as in ``InMemoryRepository``.

Columns named ``*_sealed`` hold ``SecretBox`` ciphertext, never plaintext. Lists and maps
of the security state are JSON text, which both databases store and index alike.

The schema is created on first use (``metadata.create_all``). When it must evolve, the
change comes with an alembic migration; until then there is nothing to migrate.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "ADDED_COLUMNS",
    "LEGACY_ACCOUNT_TABLE",
    "accounts",
    "app_passwords",
    "auth_log",
    "metadata",
    "methods",
    "security_states",
    "tokens",
    "user_changes",
    "users",
]

metadata = sa.MetaData()

#: A 64-bit surrogate key that is also SQLite's autoincrementing rowid.
_SerialKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("phone", sa.String(20)),
    sa.Column("country", sa.String(4)),
    sa.Column("licensed", sa.Boolean, nullable=False),
    sa.Column("enabled_at", sa.Double, nullable=False),
    sa.Column("disabled_at", sa.Double),
    #: Comma-separated ``RegistrationReason`` values.
    sa.Column("pending_registration", sa.Text, nullable=False),
)

methods = sa.Table(
    "methods",
    metadata,
    sa.Column("id", _SerialKey, primary_key=True, autoincrement=True),
    sa.Column("method_id", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.String(128), nullable=False, index=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("phone", sa.String(20)),
    #: The push app's device token: a delivery address, sealed like a secret.
    sa.Column("device_token_sealed", sa.Text),
    sa.Column("activated", sa.Boolean, nullable=False),
    sa.Column("secret_sealed", sa.Text),
    sa.Column("serial", sa.String(128)),
    sa.Column("is_default", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    #: The push app's Ed25519 public key, base64url of its 32 raw bytes (43 characters).
    sa.Column("public_key", sa.String(64)),
)

tokens = sa.Table(
    "hardware_tokens",
    metadata,
    sa.Column("serial", sa.String(128), primary_key=True),
    sa.Column("secret_sealed", sa.Text, nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("digits", sa.Integer, nullable=False),
    sa.Column("algorithm", sa.String(16), nullable=False),
    sa.Column("manufacturer", sa.Text),
    sa.Column("user_id", sa.String(128), index=True),
    sa.Column("imported_at", sa.Double, nullable=False),
)

security_states = sa.Table(
    "security_states",
    metadata,
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("consecutive_failures", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.Double, nullable=False),
    #: JSON list of send times, oldest first.
    sa.Column("send_times", sa.Text, nullable=False),
    #: JSON object: method id → last accepted TOTP step.
    sa.Column("last_totp_step", sa.Text, nullable=False),
)

app_passwords = sa.Table(
    "app_passwords",
    metadata,
    sa.Column("id", _SerialKey, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(128), nullable=False, index=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
)

auth_log = sa.Table(
    "auth_log",
    metadata,
    sa.Column("id", _SerialKey, primary_key=True, autoincrement=True),
    sa.Column("auth_id", sa.String(160), nullable=False, unique=True),
    sa.Column("unique_id", sa.String(128), nullable=False),
    sa.Column("mode", sa.String(16)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("server_name", sa.String(64), nullable=False),
    sa.Column("server_ip", sa.String(64), nullable=False),
    sa.Column("began_at", sa.Double, nullable=False, index=True),
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("phone", sa.String(20)),
    #: The push device token's fingerprint (``mfa.push_proof.fingerprint``), never the token.
    sa.Column("device_token", sa.String(16)),
    sa.Column("reason", sa.String(32)),
    sa.Column("client_ip", sa.String(64)),
    sa.Column("completed_at", sa.Double),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("sender", sa.String(32)),
    sa.Column("provider", sa.String(64)),
    sa.Column("billable", sa.Boolean, nullable=False),
    #: Which fraud defence refused a ``fraud_suspected`` begin (``mfa.reasons.FraudRule``).
    sa.Column("fraud_rule", sa.String(16)),
)

#: Every provider ever created, the active one with ``ended_at`` NULL (names are never
#: reused). Replaces ``provider_account`` (one row, ``id`` 1) of earlier versions, whose row
#: ``SqlRepository`` copies here once.
accounts = sa.Table(
    "providers",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("model", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("tenant", sa.Text),
    sa.Column("ended_at", sa.Double),
)

LEGACY_ACCOUNT_TABLE = "provider_account"

#: Nullable columns added after their table was first released, as (table, column): a
#: database of an earlier version gets them on open (``ALTER TABLE … ADD COLUMN``), empty
#: for the rows it holds, instead of being refused as too old.
ADDED_COLUMNS: tuple[tuple[str, str], ...] = (("auth_log", "fraud_rule"),)

#: The dated history of users' licences and enablement (``mfa.users.UserChange``), append
#: only: billing rebuilds any past month from it.
user_changes = sa.Table(
    "user_changes",
    metadata,
    sa.Column("id", _SerialKey, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(128), nullable=False, index=True),
    sa.Column("fact", sa.String(16), nullable=False),
    sa.Column("value", sa.Boolean, nullable=False),
    sa.Column("at", sa.Double, nullable=False, index=True),
)
