"""What the attacker flows share: the bots' client IPs, numbers in the attacked ranges and
accounts obtained through the API (``loadtests/pumping.py``, ``loadtests/push_bombing.py``).

An attacker's "login" is one attack attempt, and its success is the attacker's: a code
sent to a pumped range, an account taken over by push bombing. So ``success_ratio[pumping]``
is the share of attack sends that got through and ``refused_ratio[pumping]`` the share the
defences refused (docs/loadtests.md)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import phonenumbers

from loadtests.names import N_SETUP_METHOD, N_SETUP_USER
from mfa.users import parse_phone

if TYPE_CHECKING:
    from loadtests.user import MfaUser

__all__ = ["attack_number", "attacker_ip", "begin_attack", "enrol_account"]

#: The bots' addresses: TEST-NET-3 (RFC 5737), never a real client's.
_IP_NET = "203.0.113."


def attacker_ip(rng: random.Random, count: int) -> str:
    """One of the ``count`` client IPs the bots send from."""
    return f"{_IP_NET}{rng.randrange(max(1, min(count, 254))) + 1}"


def attack_number(prefix: str, rng: random.Random, tries: int = 200) -> str:
    """A valid number starting with ``prefix`` (E.164, e.g. ``+1305555``): the prefix
    filled with random digits to one of its country's number lengths (``ValueError`` if
    none is valid)."""
    digits = prefix.lstrip("+")
    code = _country_code(digits)
    lengths = [len(str(code)) + n for n in _national_lengths(code)]
    for _ in range(tries):
        length = rng.choice(lengths)
        fill = "".join(rng.choice("0123456789") for _ in range(max(0, length - len(digits))))
        try:
            return parse_phone(f"+{digits}{fill}").e164
        except Exception:
            continue
    raise ValueError(f"{prefix!r}: no valid number found in that prefix")


def _country_code(digits: str) -> int:
    for size in (1, 2, 3):
        code = int(digits[:size] or 0)
        if phonenumbers.region_code_for_country_code(code) != "ZZ":
            return code
    raise ValueError(f"+{digits}: not a country calling code")


def _national_lengths(code: int) -> tuple[int, ...]:
    """The lengths a national number of the calling code may have (libphonenumber's)."""
    region = phonenumbers.region_code_for_country_code(int(code))
    if region == "001":
        metadata = phonenumbers.PhoneMetadata.metadata_for_nongeo_region(int(code))
    else:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    lengths = tuple(metadata.general_desc.possible_length or ()) if metadata else ()
    return lengths or (10,)


def enrol_account(user: MfaUser, user_id: str, method: dict[str, Any], phone: str) -> str | None:
    """Obtain an account through the API (a sign-up the attacker controls): the user with
    ``phone`` and its default ``method``; a failure's reason or ``None``."""
    created = user.call(
        "POST", "/v1/users", N_SETUP_USER, {"user_id": user_id, "phone": phone}, expected=201
    )
    if not created.ok:
        return created.reason
    added = user.call(
        "POST",
        f"/v1/users/{quote(user_id)}/methods",
        N_SETUP_METHOD,
        {**method, "default": True},
        expected=201,
    )
    return added.reason


def begin_attack(user: MfaUser, flow: str, user_id: str, method: str, client_ip: str) -> Any:
    """``POST /v1/auth`` from a bot's client IP (the caller passes the end user's address,
    as a sign-in page does)."""
    from loadtests.names import N_BEGIN

    return user.call(
        "POST",
        "/v1/auth",
        N_BEGIN.format(flow=flow),
        {"user_id": user_id, "method": method, "client_ip": client_ip},
        expected=201,
    )
