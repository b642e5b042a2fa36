"""One entry point for token files, whatever their format: the CLI and the HTTP API call it.

``parse_token_file`` picks the reader by the format given, else by the file name's
extension, else by the content (XML starts with ``<``), and returns the tokens or raises
``TokenImportError`` listing every problem. Nothing is stored here: the caller hands the
tokens to ``Engine.import_tokens``, which stores all of them or none.
"""

from __future__ import annotations

from typing import Literal

from mfa.errors import InvalidInput, ProblemItem, TokenImportError
from mfa.limits import PSKC_MAX_ITERATIONS
from mfa.tokens.csv_import import parse_csv
from mfa.tokens.model import HardwareToken
from mfa.tokens.pskc import parse_pskc

__all__ = ["FORMATS", "TokenFormat", "parse_token_file", "sniff_format"]

TokenFormat = Literal["pskc", "csv"]
FORMATS: tuple[str, ...] = ("pskc", "csv")
_EXTENSIONS = {".pskc": "pskc", ".pskcxml": "pskc", ".xml": "pskc", ".csv": "csv", ".txt": "csv"}


def sniff_format(content: str | bytes, source: str = "<input>") -> TokenFormat:
    """``pskc`` or ``csv``, from the extension of ``source`` or else the first character."""
    lowered = source.lower()
    for extension, fmt in _EXTENSIONS.items():
        if lowered.endswith(extension):
            return fmt  # type: ignore[return-value]
    head = content[:64].lstrip()
    if isinstance(head, bytes):
        head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
        return "pskc" if head.startswith(b"<") else "csv"
    return "pskc" if head.removeprefix("\ufeff").lstrip().startswith("<") else "csv"


def parse_token_file(
    content: str | bytes,
    fmt: TokenFormat | str | None = None,
    *,
    password: str | None = None,
    key: bytes | str | None = None,
    source: str = "<input>",
    max_iterations: int = PSKC_MAX_ITERATIONS,
) -> list[HardwareToken]:
    """Parse a PSKC or CSV token file; ``password``/``key`` decrypt encrypted PSKC files.

    ``max_iterations`` caps the PBKDF2 iteration count an encrypted PSKC file may ask for
    (``MFALAB_PSKC_MAX_ITERATIONS``). Raises ``InvalidInput`` for an unknown format and
    ``TokenImportError`` (with every bad row or key) for a bad file.
    """
    chosen = sniff_format(content, source) if fmt is None else str(fmt).lower()
    if chosen not in FORMATS:
        raise InvalidInput("format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
    if chosen == "csv":
        if password is not None or key is not None:
            raise TokenImportError(
                source,
                [ProblemItem("options", "a password or key applies to PSKC files only")],
            )
        return parse_csv(content, source=source)
    return parse_pskc(
        content, password=password, key=key, source=source, max_iterations=max_iterations
    )
