"""Prices: the list prices in force and where they come from (``reports/pricing.yaml``).

``load_pricing`` merges, lowest precedence first, the shipped ``pricing.yaml`` (historical list
prices, documented there), a scenario's ``billing.prices`` and a file given with ``--pricing``,
key by key, and refuses a bad key or value by name (``ReportInputError``) before anything is
priced. What the prices are applied to — the engine's count of a month — is
``reports.billing``'s business, not this module's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from reports.loaders import ReportInputError

__all__ = ["Pricing", "load_pricing"]


@dataclass(frozen=True, slots=True)
class Pricing:
    """List prices; ``reports/pricing.yaml`` documents the defaults and their source."""

    currency: str
    per_user_month: float
    per_auth_price: float
    per_auth_block: int
    licence_user_year: float
    #: The seed: calls and texts are not billed per message; kept for other providers' what-ifs.
    sms_per_message: float = 0.0
    voice_per_call: float = 0.0
    #: What a hosted SMS provider charges per message sent to a country (ISO region, or
    #: ``default``) whatever the billing model: the attack cost of SMS pumping.
    provider_sms_per_message: Mapping[str, float] = field(default_factory=dict)
    source: str = ""
    as_of: str = ""
    historical: bool = False

    @property
    def per_auth(self) -> float:
        """Price of one authentication (blocks are billed pro rata)."""
        return self.per_auth_price / self.per_auth_block

    @property
    def licence_user_month(self) -> float:
        return self.licence_user_year / 12


#: Keys of a scenario's ``billing.prices`` (sim.scenario.Prices), accepted as aliases.
_ALIASES = {"per_auth": ("per_auth_price", "per_auth_block"), "licence_month": "licence_user_year"}


def load_pricing(
    path: str | Path | None = None, *, scenario_prices: Mapping[str, Any] | None = None
) -> Pricing:
    """Prices in force, lowest precedence first: the shipped ``pricing.yaml``, a scenario's
    ``billing.prices``, then the YAML file at ``path`` (``--pricing``), key by key.

    A file may also use the scenario's spelling: ``per_auth`` (one authentication) and
    ``licence_month`` (one licence a month). ``per_auth_price`` and ``per_auth_block`` merge
    as one price (see ``_with_whole_block``): a layer giving one of them takes the other from
    the documented defaults, never from a lower layer.
    """
    default = yaml.safe_load(
        resources.files("reports").joinpath("pricing.yaml").read_text(encoding="utf-8")
    )
    merged = dict(default)
    if scenario_prices:
        layer = _normalised(scenario_prices, Path("scenario.yaml: billing.prices"))
        merged.update(_with_whole_block(layer, default))
        merged.update(source="the scenario's billing.prices", as_of="", historical=False)
    where = Path(path) if path is not None else Path("reports/pricing.yaml")
    if path is not None:
        try:
            override = yaml.safe_load(where.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ReportInputError(where, f"cannot be read ({exc.strerror or exc})") from None
        except yaml.YAMLError as exc:
            raise ReportInputError(where, f"not valid YAML ({exc})") from None
        if override is None:
            override = {}
        if not isinstance(override, dict):
            raise ReportInputError(where, "expected a mapping of price keys")
        normalised = _normalised(override, where)
        merged.update(_with_whole_block(normalised, default))
        if "source" not in normalised:
            merged.update(source=str(where), as_of="", historical=False)
    return _validated(merged, where)


def _normalised(values: Mapping[str, Any], where: Path) -> dict[str, Any]:
    known = {f.name for f in fields(Pricing)}
    unknown = sorted(set(values) - known - set(_ALIASES))
    if unknown:
        choices = sorted(known | set(_ALIASES))
        raise ReportInputError(where, f"unknown keys {unknown}; known: {choices}")
    out = {k: v for k, v in values.items() if k in known}
    if "per_auth" in values:
        out.update(per_auth_price=values["per_auth"], per_auth_block=1)
    if "licence_month" in values:
        value = values["licence_month"]
        out["licence_user_year"] = value * 12 if _is_number(value) else value
    return out


def _with_whole_block(layer: dict[str, Any], default: Mapping[str, Any]) -> dict[str, Any]:
    """``per_auth_price`` is the price of ``per_auth_block`` authentications: the two keys are
    one price and merge as one. A layer that sets either sets both, the one it omits taken
    from the documented defaults — so a file giving only ``per_auth_price: 1.40`` prices 10
    authentications, as ``pricing.yaml`` documents, even over a scenario's ``per_auth`` (which
    is a block of 1)."""
    if "per_auth_price" not in layer and "per_auth_block" not in layer:
        return layer
    return {
        "per_auth_price": default["per_auth_price"],
        "per_auth_block": default["per_auth_block"],
        **layer,
    }


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _per_country(table: object, where: Path) -> dict[str, float]:
    """``provider_sms_per_message``: ISO regions (or ``default``) to non-negative prices."""
    if not isinstance(table, Mapping):
        raise ReportInputError(
            where,
            f"provider_sms_per_message: expected a mapping of country to price, got {table!r}",
        )
    out: dict[str, float] = {}
    for country, price in table.items():
        known = country == "default" or (
            isinstance(country, str) and len(country) == 2 and country.isupper()
        )
        if not known:
            raise ReportInputError(
                where, f"provider_sms_per_message: {country!r} is not an ISO region or 'default'"
            )
        if not _is_number(price) or price < 0:
            raise ReportInputError(
                where,
                f"provider_sms_per_message.{country}: must be a non-negative number, got {price!r}",
            )
        out[country] = float(price)
    return out


def _validated(values: Mapping[str, Any], where: Path) -> Pricing:
    numbers = (
        "per_user_month",
        "per_auth_price",
        "licence_user_year",
        "sms_per_message",
        "voice_per_call",
    )
    for key in numbers:
        value = values.get(key, 0.0)
        if not _is_number(value) or value < 0:
            raise ReportInputError(where, f"{key}: must be a non-negative number, got {value!r}")
    block = values.get("per_auth_block")
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ReportInputError(where, f"per_auth_block: must be a positive integer, got {block!r}")
    return Pricing(
        currency=str(values.get("currency", "USD")),
        per_user_month=float(values["per_user_month"]),
        per_auth_price=float(values["per_auth_price"]),
        per_auth_block=block,
        licence_user_year=float(values["licence_user_year"]),
        sms_per_message=float(values.get("sms_per_message", 0.0)),
        voice_per_call=float(values.get("voice_per_call", 0.0)),
        provider_sms_per_message=_per_country(values.get("provider_sms_per_message", {}), where),
        source=" ".join(str(values.get("source", "")).split()),
        as_of=str(values.get("as_of", "")),
        historical=bool(values.get("historical", False)),
    )
