"""``mfalab``: the one command-line entry point.

Each package contributes its subcommands through a ``register(subparsers)`` function; they
are imported here by name so that ``mfalab --version`` stays fast and a subcommand's heavy
imports (pandas, simpy, locust) happen only when it runs. A subcommand's handler returns an
exit code; ``MfaError`` and ``UsageError`` become one clear message and a non-zero exit,
never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from mfa import __version__
from mfa.errors import MfaError

__all__ = ["UsageError", "main"]

#: Modules that define ``register(subparsers)``; order is the order in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "mfa.cli.demo",
    "mfa.cli.tokens",
    "sim.cli",
    "mfa.cli.logs",
    "mfa.cli.serve",
    "mfa.cli.loadtest",
    "mfa.cli.billing",
    "mfa.cli.provider",
    "reports.cli",
)


class UsageError(Exception):
    """A problem with what the user asked for: printed as is, exit code 2."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mfalab",
        description="A lab for the reliability of MFA delivery: engine, simulator, load tests.",
    )
    parser.add_argument("--version", action="version", version=f"mfalab {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except UsageError as exc:
        print(f"mfalab {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except MfaError as exc:
        print(f"mfalab {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
