"""Import OATH TOTP tokens from PSKC files (RFC 6030), plain or encrypted.

A vendor ships a ``KeyContainer`` with one ``KeyPackage`` per token: ``DeviceInfo`` carries
the manufacturer and serial number, ``Key`` the algorithm (we take only
``urn:ietf:params:xml:ns:keyprov:pskc:totp``), the secret, the ``TimeInterval`` and the
response length. Secrets may be encrypted with a key derived from a password (PBKDF2, RFC
6030 §6.2) or with a pre-shared AES key (§6.1); python-pskc does the cryptography and checks
the MACs.

The import is all or nothing: every key is examined and every problem is reported with the
KeyPackage's position and Key Id before ``TokenImportError`` is raised. Documents with a DTD
are refused before python-pskc sees them, so entity tricks (XXE, billion laughs) cannot
reach the parser.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

from lxml import etree

from mfa.errors import ProblemItem, TokenImportError
from mfa.limits import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_TOKENS,
    MAX_NAME,
    PSKC_MAX_ITERATIONS,
    text_problem,
)
from mfa.otp import normalise_algorithm
from mfa.tokens.model import HardwareToken, parameter_problems, secret_problem, serial_problem

__all__ = ["TOTP_ALGORITHM", "parse_pskc"]

TOTP_ALGORITHM = "urn:ietf:params:xml:ns:keyprov:pskc:totp"
_SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)


def _as_bytes(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else bytes(content)


def _check_document(data: bytes, source: str) -> None:
    """Refuse what is not well-formed XML, or carries a DTD, before python-pskc parses it."""
    try:
        root = etree.fromstring(data, parser=_SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        raise TokenImportError(source, [ProblemItem("file", f"not PSKC XML ({exc})")]) from None
    if root.getroottree().docinfo.doctype:
        raise TokenImportError(
            source, [ProblemItem("file", "a DOCTYPE is not allowed in a PSKC file")]
        )


def _decryption_key(key: bytes | str | None, source: str) -> bytes | None:
    if key is None or isinstance(key, bytes):
        return key
    try:
        raw = binascii.unhexlify("".join(key.split()))
    except (binascii.Error, ValueError):
        raise TokenImportError(
            source, [ProblemItem("--key", "the pre-shared key must be hexadecimal")]
        ) from None
    if len(raw) not in (16, 24, 32):
        raise TokenImportError(
            source,
            [ProblemItem("--key", f"an AES key has 16, 24 or 32 bytes, this one has {len(raw)}")],
        )
    return raw


def parse_pskc(
    content: str | bytes,
    *,
    password: str | None = None,
    key: bytes | str | None = None,
    source: str = "<input>",
    max_iterations: int = PSKC_MAX_ITERATIONS,
) -> list[HardwareToken]:
    """Every TOTP token in a PSKC document, or ``TokenImportError`` listing every problem.

    ``password`` decrypts PBE-encrypted files, ``key`` (bytes or hex) files encrypted with a
    pre-shared key. The file chooses its PBKDF2 iteration count: more than
    ``max_iterations`` is refused before any key is derived (2^31 iterations would hold a
    CPU for a quarter of an hour).
    """
    if password is not None and key is not None:
        raise TokenImportError(
            source, [ProblemItem("options", "give either a password or a key, not both")]
        )
    data = _as_bytes(content)
    if len(data) > MAX_IMPORT_BYTES:
        raise TokenImportError(
            source,
            [ProblemItem("file", f"larger than {MAX_IMPORT_BYTES:,} bytes, the import limit")],
        )
    _check_document(data, source)
    secret_key = _decryption_key(key, source)
    container = _opened(data, password, secret_key, source, max_iterations)
    encrypted = container.encryption.is_encrypted
    tokens: list[HardwareToken] = []
    problems: list[ProblemItem] = []
    first_seen: dict[str, str] = {}  # serial -> where
    for index, item in enumerate(container.keys, start=1):
        where = f"KeyPackage {index}" + (f" (Key Id {item.id!r})" if item.id else "")
        token, reasons = _package_token(item, where, encrypted, first_seen)
        if token is None:
            problems.extend(ProblemItem(where, r) for r in reasons)
        else:
            tokens.append(token)
    if problems:
        raise TokenImportError(source, problems)
    return tokens


def _opened(
    data: bytes,
    password: str | None,
    secret_key: bytes | None,
    source: str,
    max_iterations: int,
) -> Any:
    """The parsed PSKC container, with its decryption key set if the secrets are encrypted.

    The count of KeyPackages and the PBKDF2 iteration count are checked here, before any
    key is derived, so a hostile file cannot make the import hold a CPU.
    """
    from pskc import PSKC
    from pskc.exceptions import KeyDerivationError, PSKCError

    try:
        container = PSKC(io.BytesIO(data))
    except PSKCError as exc:
        raise TokenImportError(source, [ProblemItem("file", f"not a PSKC file ({exc})")]) from None
    if not container.keys:
        raise TokenImportError(source, [ProblemItem("file", "the file holds no KeyPackage")])
    if len(container.keys) > MAX_IMPORT_TOKENS:
        raise TokenImportError(
            source,
            [ProblemItem("file", f"more than {MAX_IMPORT_TOKENS:,} KeyPackages, the import limit")],
        )
    if container.encryption.is_encrypted and password is None and secret_key is None:
        problem = "the secrets are encrypted: give the password (PBE) or the pre-shared key"
        raise TokenImportError(source, [ProblemItem("file", problem)])
    if password is not None:
        _check_iterations(container, max_iterations, source)
    try:
        if password is not None:
            container.encryption.derive_key(password)
        elif secret_key is not None:
            container.encryption.key = secret_key
    except (KeyDerivationError, PSKCError) as exc:
        raise TokenImportError(
            source, [ProblemItem("file", f"cannot derive the key from the password ({exc})")]
        ) from None
    return container


def _check_iterations(container: Any, max_iterations: int, source: str) -> None:
    """Refuse a PBKDF2 iteration count over the cap: the file, not us, chooses it."""
    iterations = container.encryption.derivation.pbkdf2_iterations
    if iterations is not None and iterations > max_iterations:
        raise TokenImportError(
            source,
            [
                ProblemItem(
                    "EncryptionKey/DerivedKey",
                    f"{iterations:,} PBKDF2 iterations; at most {max_iterations:,} are "
                    "accepted (MFALAB_PSKC_MAX_ITERATIONS)",
                )
            ],
        )


def _package_token(
    item: Any, where: str, encrypted: bool, first_seen: dict[str, str]
) -> tuple[HardwareToken | None, list[str]]:
    """The token of one KeyPackage, or ``None`` and every reason it is refused.

    Every reason is collected (not only the first) so that one import run shows the vendor
    everything to fix in the file.
    """
    from pskc.exceptions import DecryptionError

    reasons: list[str] = []
    if item.algorithm != TOTP_ALGORITHM:
        reasons.append(
            f"unsupported algorithm {item.algorithm or '(none)'!r}: only TOTP keys "
            f"({TOTP_ALGORITHM}) can be imported"
        )
    serial = item.serial
    if problem := serial_problem(serial):
        reasons.append(problem + " (DeviceInfo/SerialNo)")
    elif serial in first_seen:
        reasons.append(f"duplicate serial {serial!r} (also in {first_seen[serial]})")
    else:
        first_seen[serial] = where
    try:  # these fields may be encrypted
        raw_secret, period, offset = item.secret, item.time_interval, item.time_offset
    except DecryptionError as exc:
        hint = "wrong password or key?" if encrypted else "damaged file?"
        return None, [*reasons, f"cannot decrypt the key data ({exc}; {hint})"]
    secret = ""
    if raw_secret is None:
        reasons.append("missing secret (Data/Secret)")
    else:
        secret = base64.b32encode(raw_secret).decode("ascii").rstrip("=")
        if problem := secret_problem(secret):
            reasons.append(problem)
    if offset not in (None, 0):
        reasons.append(f"a Time offset of {offset} steps is not supported (only T0 = 0)")
    algorithm = _algorithm(item, reasons)
    encoding = (item.response_encoding or "DECIMAL").upper()
    if encoding != "DECIMAL":
        reasons.append(f"response encoding {encoding} is not supported (only DECIMAL)")
    if problem := text_problem(item.manufacturer or "", maximum=MAX_NAME):
        reasons.append(f"manufacturer: {problem} (DeviceInfo/Manufacturer)")
    period = 30 if period is None else period
    digits = 6 if item.response_length is None else item.response_length
    reasons += parameter_problems(period, digits, algorithm)
    if reasons:
        return None, reasons
    token = HardwareToken(
        serial=serial,
        secret=secret,
        period=period,
        digits=digits,
        algorithm=algorithm,
        manufacturer=item.manufacturer,
    )
    return token, []


def _algorithm(item: Any, reasons: list[str]) -> str:
    """The KeyPackage's hash (SHA-1 when absent); an unknown one is a reason to refuse."""
    try:
        return normalise_algorithm(item.algorithm_suite or "sha1")
    except ValueError as exc:
        reasons.append(str(exc) + " (AlgorithmParameters/Suite)")
        return "sha1"
