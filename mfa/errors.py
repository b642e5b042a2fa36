"""Errors that callers are expected to handle and show to a person.

Each carries a message meant for humans; the CLI and the HTTP layer print it as is.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BillingModelLocked",
    "ConflictError",
    "DeliveryError",
    "EnrolmentError",
    "InvalidInput",
    "MfaError",
    "NotFound",
    "ProblemItem",
    "RejectedBatch",
    "ServiceUnavailable",
    "TokenImportError",
]


class MfaError(Exception):
    """Base of every error the engine raises on purpose."""


class InvalidInput(MfaError):
    """A value given by a caller is malformed; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(MfaError):
    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} {key!r} does not exist")
        self.what = what
        self.key = key


class ConflictError(MfaError):
    """The thing to create already exists, or the change contradicts a fixed rule."""


class BillingModelLocked(ConflictError):
    """The seed: a provider's billing model can't be changed after it is created."""


class ServiceUnavailable(MfaError):
    """A store the engine needs (``what``: ``"redis"`` or ``"database"``) did not answer in
    time or refused the connection. Nothing was half-written: the caller may retry after
    ``retry_after`` seconds (the HTTP layer answers 503 with ``Retry-After``)."""

    def __init__(self, what: str, detail: str = "", *, retry_after: float = 1.0) -> None:
        message = f"the {what} is unavailable" + (f": {detail}" if detail else "")
        super().__init__(message)
        self.what = what
        self.detail = detail
        self.retry_after = retry_after


class DeliveryError(MfaError):
    """Every provider refused or failed to take a message."""


@dataclass(frozen=True, slots=True)
class ProblemItem:
    """One problem found in an input file: where (row, key or path) and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


class RejectedBatch(MfaError):
    """A batch was refused as a whole; ``problems`` lists every bad entry. Nothing was stored."""

    #: what happened to the batch, for the message
    outcome = "nothing stored"

    def __init__(self, source: str, problems: list[ProblemItem]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s), {self.outcome}\n{lines}")


class TokenImportError(RejectedBatch):
    """A token file was rejected; ``problems`` lists every bad row or key. Nothing was imported."""

    outcome = "nothing imported"


class EnrolmentError(RejectedBatch):
    """A batch of enrolments (a directory sync) was rejected; ``problems`` lists every bad
    entry. Nobody was enrolled."""

    outcome = "nobody enrolled"
