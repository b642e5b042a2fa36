"""The hardware tokens a deployment holds: a batch imported all or nothing.

The readers (``mfa.tokens.importer``) turn a PSKC or CSV file into ``HardwareToken`` records;
this step stores them, unassigned, once every one of them is checked — a half-imported file
would leave an administrator guessing which serials made it. A token is later assigned to the
user who registers it (``mfa.registration``). A step of ``mfa.engine.Engine``, written as a
function of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from mfa.errors import ProblemItem, TokenImportError
from mfa.tokens.model import HardwareToken, token_problems

if TYPE_CHECKING:
    from mfa.engine import Engine

__all__ = ["import_problems", "import_tokens"]


def import_problems(tokens: Sequence[HardwareToken]) -> list[ProblemItem]:
    """Every problem of the batch: each token's (the readers' rules) and repeated serials."""
    problems: list[ProblemItem] = []
    seen: set[str] = set()
    for index, token in enumerate(tokens, start=1):
        where = f"token {index} ({token.serial!r})"
        problems += [ProblemItem(where, reason) for reason in token_problems(token)]
        if token.serial in seen:
            problems.append(ProblemItem(where, "serial repeated in this import"))
        seen.add(token.serial)
    return problems


def import_tokens(engine: Engine, tokens: Sequence[HardwareToken], source: str) -> list[str]:
    """``Engine.import_tokens``: check all, then store all, unassigned and dated now."""
    problems = import_problems(tokens)
    if problems:
        raise TokenImportError(source, problems)
    now = engine.clock.now()
    engine.repository.add_tokens([replace(t, imported_at=now, user_id=None) for t in tokens])
    return [t.serial for t in tokens]
