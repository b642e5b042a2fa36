"""The people of one replication: who they are, and their registration in the engine.

Attributes are drawn up front as numpy arrays (country, carrier, default and backup
methods, security app, licence), so a million users cost a few megabytes. A user is
enrolled in the shared repository — through the engine, in a directory sync of everyone in
a chunk of arrivals who is not there yet — before their first sign-in, with their default
method, and a backup method the first time they fall back to it: only people who
authenticate, and only methods they use, cost engine memory and registration time.

Each push user's authenticator app holds an Ed25519 key pair derived from the run's
population stream (one 32-byte draw after every attribute, then a hash per user), so keys
are the same from the same seed and cost nothing until the app is registered.

Phone numbers are valid numbers of the user's country (libphonenumber's example mobile
number with the last four digits varied), because the engine derives the country, and so
the sender pool, from the number.
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import phonenumbers
from nacl.signing import SigningKey

from mfa.engine import Engine
from mfa.enrolment import Enrolment
from mfa.methods import MethodType, RegisteredMethod
from mfa.push_proof import public_key_of
from mfa.tokens.model import HardwareToken
from sim.network import CarrierModel, CarrierTable
from sim.scenario import METHODS, Scenario

__all__ = ["Population", "phone_template"]


def phone_template(region: str) -> tuple[str, bool]:
    """An E.164 prefix for ``region`` and whether four digits may be appended to vary it."""
    example = phonenumbers.example_number_for_type(
        region, phonenumbers.PhoneNumberType.MOBILE
    ) or phonenumbers.example_number(region)
    if example is None:
        raise ValueError(f"libphonenumber has no example number for {region}")
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    stem = e164[:-4]
    for suffix in ("0000", "9999", "4321"):
        if not phonenumbers.is_valid_number(phonenumbers.parse(stem + suffix)):
            return e164, False
    return stem, True


class Population:
    """User attributes by index; ``register`` enrols user ``i`` in the engine on first use."""

    def __init__(
        self,
        scenario: Scenario,
        rng: np.random.Generator,
        carriers: CarrierTable,
    ) -> None:
        spec = scenario.population
        n = spec.users
        self.size = n
        self.countries = list(spec.countries)
        shares = np.array(list(spec.countries.values()), dtype=float)
        country = rng.choice(len(self.countries), size=n, p=shares / shares.sum())
        # carriers: one global list, each user an index into it
        self.carriers: list[CarrierModel] = []
        carrier = np.zeros(n, dtype=np.int64)
        for ci, code in enumerate(self.countries):
            models, cumulative = carriers.choices(code)
            offset = len(self.carriers)
            self.carriers.extend(models)
            members = np.flatnonzero(country == ci)
            probs = np.diff([0.0, *cumulative])
            picks = rng.choice(len(models), size=len(members), p=probs / probs.sum())
            carrier[members] = picks + offset
        method_shares = np.array([spec.methods.get(m, 0.0) for m in METHODS], dtype=float)
        default = rng.choice(len(METHODS), size=n, p=method_shares / method_shares.sum())
        registered = np.left_shift(1, default)
        for bit, method in enumerate(METHODS):
            chance = spec.backup_methods.get(method, 0.0)
            registered |= (rng.random(n) < chance).astype(np.int64) << bit
        security_app = rng.random(n) < spec.security_app_share
        # plain lists: the simulation reads one user at a time, which lists do fastest
        self.country: list[int] = country.tolist()
        self.carrier: list[int] = carrier.tolist()
        self.default: list[int] = default.tolist()
        self.registered: list[int] = registered.tolist()
        self.security_app: list[bool] = security_app.tolist()
        self.licences = scenario.billing.licences
        self._phones = {c: phone_template(c) for c in self.countries}
        self._fallback = [METHODS.index(m) for m in scenario.user.fallback_order]
        #: the methods registered in the engine so far, one bit per method (0: no user yet)
        self._enrolled = bytearray(n)
        self._plans: dict[int, tuple[str, ...]] = {}
        #: base32 secrets of each user's authenticator app and hardware token
        self.totp_secret: dict[int, str] = {}
        self.token_secret: dict[int, str] = {}
        #: the time step of each user's hardware token, as imported into the engine
        self.token_period: dict[int, int] = {}
        #: each push user's authenticator app: its private key, made when first registered
        #: (let go of by ``Replication.close``, like the engines, not left to the collector)
        self.device_keys: dict[int, SigningKey] = {}
        # drawn last, so that every attribute above is what it was before keys existed
        self._device_seed = rng.bytes(32)

    # ------------------------------------------------------------------ attributes

    @staticmethod
    def user_id(index: int) -> str:
        return f"u{index:07d}"

    @staticmethod
    def device_token(index: int) -> str:
        return f"device-{index:07d}"

    def device_key(self, index: int) -> SigningKey:
        """User ``index``'s authenticator app's private key, from the run's seed."""
        found = self.device_keys.get(index)
        if found is None:
            seed = hashlib.sha256(self._device_seed + index.to_bytes(8, "little")).digest()
            found = self.device_keys[index] = SigningKey(seed)
        return found

    def country_of(self, index: int) -> str:
        return self.countries[self.country[index]]

    def licensed(self, index: int) -> bool:
        """The first ``billing.licences`` users hold a licence."""
        return index < self.licences

    def phone(self, index: int) -> str:
        stem, varies = self._phones[self.country_of(index)]
        return f"{stem}{index % 10_000:04d}" if varies else stem

    def plan(self, index: int) -> tuple[str, ...]:
        """The methods a user tries, in order: the default, then registered ones by the
        scenario's fallback order."""
        mask = self.registered[index]
        default = self.default[index]
        key = mask * 8 + default
        found = self._plans.get(key)
        if found is None:
            order = [default] + [m for m in self._fallback if m != default and mask >> m & 1]
            found = tuple(METHODS[m] for m in order)
            self._plans[key] = found
        return found

    # ------------------------------------------------------------------ enrolment

    def enrol(self, indices: list[int], engine: Engine) -> list[str]:
        """The user ids of ``indices`` (a chunk of arrivals). Those not yet in the engine are
        enrolled first with their default method, all in one ``Engine.enrol_many`` — a
        directory sync ahead of their sign-ins; the directory holds a phone number for
        users of sms or voice only."""
        user_id = self.user_id
        ids = [user_id(index) for index in indices]
        enrolled = self._enrolled
        batch: list[Enrolment] = []
        enrolling: list[int] = []
        tokens: list[HardwareToken] = []
        for index, uid in zip(indices, ids, strict=True):
            if enrolled[index]:
                continue
            m = self.default[index]
            enrolled[index] = 1 << m
            device_token, public_key, token = self._credentials(index, _KINDS[m])
            if token is not None:
                tokens.append(token)
            phone = self.phone(index) if self.registered[index] & _PHONE_METHODS else None
            batch.append(
                Enrolment(
                    user_id=uid,
                    method=_KINDS[m],
                    phone=phone,
                    serial=token.serial if token is not None else None,
                    device_token=device_token,
                    licensed=self.licensed(index),
                    public_key=public_key,
                )
            )
            enrolling.append(index)
        if tokens:
            engine.import_tokens(tokens)
        if batch:
            for index, method in zip(enrolling, engine.enrol_many(batch), strict=True):
                self._keep_secret(index, method)
        return ids

    def register_backup(self, index: int, method: str, engine: Engine) -> None:
        """Register a backup method the first time its owner falls back to it.

        Until then the engine has no use for it: a sign-in asks for a named method, which
        the engine finds among those registered, and what it decides for the default
        method (the default flag, registration required) does not depend on the backups."""
        bit = _BIT[method]
        if self._enrolled[index] >> bit & 1:
            return
        self._enrolled[index] |= 1 << bit
        device_token, public_key, token = self._credentials(index, _KINDS[bit])
        if token is not None:
            engine.import_tokens([token])
        registered = engine.register_method(
            self.user_id(index),
            _KINDS[bit],
            device_token=device_token,
            serial=token.serial if token is not None else None,
            public_key=public_key,
        )
        self._keep_secret(index, registered)

    def _credentials(
        self, index: int, kind: MethodType
    ) -> tuple[str | None, str | None, HardwareToken | None]:
        """The push app's device token and public key, or the hardware token to import
        first, for a registration of ``kind``."""
        if kind is _PUSH:
            return self.device_token(index), public_key_of(self.device_key(index)), None
        if kind is _HARDWARE_TOKEN:
            serial = f"HT{index:08d}"
            secret = self.token_secret[index] = _token_secret(serial)
            token = HardwareToken(serial=serial, secret=secret)
            self.token_period[index] = token.period
            return None, None, token
        return None, None, None

    def _keep_secret(self, index: int, method: RegisteredMethod) -> None:
        """The authenticator app holds the secret the engine issued (totp)."""
        if method.type is _TOTP:
            assert method.secret is not None
            self.totp_secret[index] = method.secret


_BIT = {method: bit for bit, method in enumerate(METHODS)}
_KINDS = tuple(MethodType(method) for method in METHODS)
# bound once: a lookup on an enum class is slow on Python 3.11 (see mfa.engine)
_PUSH, _TOTP, _HARDWARE_TOKEN = MethodType.PUSH, MethodType.TOTP, MethodType.HARDWARE_TOKEN
_PHONE_METHODS = (1 << METHODS.index("sms")) | (1 << METHODS.index("voice"))


def _token_secret(serial: str) -> str:
    """A fixed 160-bit secret per serial: reproducible without drawing from any stream."""
    digest = hashlib.sha1(f"mfalab-sim-token:{serial}".encode()).digest()
    return base64.b32encode(digest).decode().rstrip("=")
