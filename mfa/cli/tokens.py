"""``mfalab tokens import``: load OATH TOTP hardware tokens from a PSKC or CSV file.

The file is read and checked completely first; if any row or key is bad, every problem is
printed and nothing is imported (exit 2). Otherwise all tokens are stored in one step in the
database named by ``--db`` (default ``MFALAB_DB_URL``), their secrets sealed with the key
from ``MFALAB_SECRET_KEY``. Only serial numbers are printed, never a secret.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mfa.engine import Engine
    from mfa.settings import Settings

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("tokens", help="hardware tokens (OATH TOTP)")
    actions = parser.add_subparsers(dest="tokens_command", metavar="ACTION")
    parser.set_defaults(handler=lambda _args: _help(parser))
    importer = actions.add_parser(
        "import",
        help="import tokens from a PSKC or CSV file (all or nothing)",
        description=(
            "Import OATH TOTP tokens from a PSKC (RFC 6030) file, plain or encrypted, or from a "
            "CSV file (serial, base32 secret, time interval[, digits], header optional). "
            "Every bad row or key is reported and nothing is imported if there is any."
        ),
    )
    importer.add_argument("file", metavar="FILE", help="the token file ('-' reads stdin)")
    importer.add_argument(
        "--format", choices=("pskc", "csv"), help="default: from the extension or content"
    )
    secrets = importer.add_mutually_exclusive_group()
    secrets.add_argument("--password", help="password of a PBE-encrypted PSKC file")
    secrets.add_argument("--key", metavar="HEX", help="pre-shared AES key of a PSKC file, in hex")
    importer.add_argument("--db", metavar="URL", help="database URL (default: MFALAB_DB_URL)")
    importer.add_argument(
        "--dry-run", action="store_true", help="check the file and list the serials; store nothing"
    )
    importer.set_defaults(handler=_import)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _settings() -> Settings:
    from pydantic import ValidationError

    from mfa.cli import UsageError
    from mfa.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = [
            f"MFALAB_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        ]
        raise UsageError("; ".join(problems)) from None


def _read(name: str) -> tuple[bytes, str]:
    """The file's bytes; one over the import limit is refused before it is read whole."""
    from mfa.cli import UsageError
    from mfa.limits import MAX_IMPORT_BYTES

    too_big = f"{name}: larger than {MAX_IMPORT_BYTES:,} bytes, the import limit; nothing imported"
    if name == "-":
        data = sys.stdin.buffer.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            raise UsageError(too_big)
        return data, "<stdin>"
    path = Path(name)
    try:
        if path.is_file() and path.stat().st_size > MAX_IMPORT_BYTES:
            raise UsageError(too_big)
        return path.read_bytes(), str(path)
    except FileNotFoundError:
        raise UsageError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{name}: is a directory") from None
    except OSError as exc:
        raise UsageError(f"{name}: cannot be read ({exc.strerror})") from None


def _import(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from mfa.cli import UsageError
    from mfa.errors import ConflictError, TokenImportError
    from mfa.tokens.importer import parse_token_file

    settings = _settings()
    content, source = _read(args.file)
    try:
        tokens = parse_token_file(
            content,
            args.format,
            password=args.password,
            key=args.key,
            source=source,
            max_iterations=settings.pskc_max_iterations,
        )
    except TokenImportError as exc:
        raise UsageError(str(exc)) from None
    serials = [t.serial for t in tokens]
    if args.dry_run:
        print(f"{source}: {len(tokens)} valid token(s), nothing stored: {', '.join(serials)}")
        return 0

    db_url = args.db or settings.db_url
    engine, close = _engine(settings, db_url)
    try:
        engine.import_tokens(tokens, source=source)
    except ConflictError as exc:
        raise UsageError(f"{source}: {exc}; nothing imported") from None
    except TokenImportError as exc:
        raise UsageError(str(exc)) from None
    except SQLAlchemyError as exc:
        # the database refused the batch: one line, without SQL or parameters
        orig = getattr(exc, "orig", None) or exc
        first = (str(orig).strip().splitlines() or [orig.__class__.__name__])[0]
        raise UsageError(
            f"{source}: the database refused the import ({first}); nothing imported", 1
        ) from None
    finally:
        close()
    print(f"imported {len(tokens)} token(s) into {_shown(db_url)}: {', '.join(serials)}")
    return 0


def _engine(settings: Settings, db_url: str) -> tuple[Engine, Callable[[], None]]:
    """An engine on the database, just for storing tokens (no clock-sensitive work)."""
    from mfa import Engine, MemoryPendingStore, ServerIdentity, SystemClock
    from mfa.cli import UsageError
    from mfa.delivery import SinkGateway
    from mfa.errors import InvalidInput
    from mfa.storage import derive_key, open_repository

    if settings.secret_key is None:
        raise UsageError(
            "MFALAB_SECRET_KEY is not set: token secrets are encrypted at rest with a key "
            "derived from it (use the same value as the server)"
        )
    try:
        key = derive_key(settings.secret_key.get_secret_value())
    except InvalidInput as exc:
        raise UsageError(str(exc)) from None
    repository = open_repository(db_url, secret_key=key)
    engine = Engine(
        server=ServerIdentity(settings.server_name),
        clock=SystemClock(),
        repository=repository,
        pending=MemoryPendingStore(),
        gateway=SinkGateway(),
        secret_key=key,
    )
    close = getattr(repository, "close", lambda: None)
    return engine, close


def _shown(url: str) -> str:
    from mfa.storage.locations import shown

    return url if url == "memory" else shown(url)
