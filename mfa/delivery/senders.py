"""Which sender number carries an SMS or call to a destination country.

The seed: the US uses the short codes 97671, 69829, 51789 and 99399, Canada 759731 and
673801, and no other country has short codes. There is no guarantee that the same number is
used each time ("we may add or remove short codes at any time"), so each send draws one from
the destination's pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from mfa.entropy import Entropy

__all__ = ["DEFAULT_LONG_CODE", "DEFAULT_SHORT_CODES", "Sender", "SenderDirectory", "SenderKind"]

DEFAULT_SHORT_CODES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "US": ("97671", "69829", "51789", "99399"),
        "CA": ("759731", "673801"),
    }
)
#: The long code for every country without short codes (an assumed number).
DEFAULT_LONG_CODE = "+14255550199"


class SenderKind(StrEnum):
    SHORT_CODE = "short_code"
    LONG_CODE = "long_code"


@dataclass(frozen=True, slots=True)
class Sender:
    address: str
    kind: SenderKind


@dataclass(frozen=True, slots=True)
class SenderDirectory:
    """Short-code pools per ISO country; a long code everywhere else.

    ``long_codes`` may name a long-code number per country; others use ``default_long_code``.
    """

    short_codes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_SHORT_CODES)
    long_codes: Mapping[str, str] = field(default_factory=dict)
    default_long_code: str = DEFAULT_LONG_CODE

    def pool(self, country: str | None) -> tuple[Sender, ...]:
        codes = self.short_codes.get(country or "", ())
        if codes:
            return tuple(Sender(c, SenderKind.SHORT_CODE) for c in codes)
        address = self.long_codes.get(country or "", self.default_long_code)
        return (Sender(address, SenderKind.LONG_CODE),)

    def choose(self, country: str | None, entropy: Entropy) -> Sender:
        pool = self.pool(country)
        return pool[0] if len(pool) == 1 else entropy.choice(pool)
