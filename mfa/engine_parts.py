"""The parts of an engine its steps share, each with the small memory that saves repeated
work on every request.

- ``CodeMac``: the keyed digest a code is kept as (never the code itself);
- ``MessageParts``: what an outgoing text is made of — the recipient's country, one of the
  country's sender numbers, the policy's template with the code in it;
- ``OpenAuthentications``: the users of the authentications this engine began, so
  finishing one does not read the user again, and a purge of expired pending records now
  and then.

None of them decides anything: forgetting every memory here changes no outcome, only the
work done. Each memory is a plain dict, bounded (cleared when full) and not locked: a race
between threads can only recompute an entry or move a purge, never change an answer.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from mfa.users import User, parse_phone

if TYPE_CHECKING:
    from mfa.delivery.senders import SenderDirectory
    from mfa.entropy import Entropy
    from mfa.pending import PendingAuth, PendingStore
    from mfa.repository import Repository

__all__ = ["CodeMac", "MessageParts", "OpenAuthentications"]

#: Stored authentications between two purges of the pending store's expired records.
PURGE_EVERY = 512
#: Bounds of the memories (phone countries; users of open authentications).
COUNTRY_CACHE = 4096
BEGUN_CACHE = 4096


class CodeMac:
    """A keyed BLAKE2b MAC of a code, bound to its auth id: a dump of the pending store
    reveals no live code, and a digest cannot be moved to another authentication."""

    __slots__ = ("_mac",)

    def __init__(self, secret_key: bytes) -> None:
        # BLAKE2b takes keys up to 64 bytes; longer secrets are hashed down first
        key = secret_key if len(secret_key) <= 64 else hashlib.sha256(secret_key).digest()
        # keyed once: each digest copies this state rather than re-keying BLAKE2b
        self._mac = hashlib.blake2b(key=key, digest_size=32)

    def digest(self, auth_id: str, code: str) -> bytes:
        mac = self._mac.copy()
        mac.update(f"{auth_id}:{code}".encode())
        return mac.digest()


class MessageParts:
    """The country of a number, a sender for a country and the text of a code, each worked
    out once and remembered: libphonenumber's parse is slow, the sender directory's pools
    and the template do not change between messages."""

    __slots__ = ("_countries", "_pools", "_pools_of", "_template", "_template_parts")

    def __init__(self) -> None:
        self._countries: dict[str, str] = {}
        self._pools: dict[str | None, tuple[str, ...]] = {}
        self._pools_of: SenderDirectory | None = None
        self._template = ""
        self._template_parts: list[str] = []

    def country_of(self, phone: str) -> str:
        """The country of an E.164 number."""
        country = self._countries.get(phone)
        if country is None:
            if len(self._countries) >= COUNTRY_CACHE:
                self._countries.clear()
            country = self._countries[phone] = parse_phone(phone).country
        return country

    def sender(self, senders: SenderDirectory, entropy: Entropy, country: str | None) -> str:
        """One of the country's sender numbers in ``senders`` (its pool, remembered per
        country until the directory is replaced)."""
        if senders is not self._pools_of:
            self._pools.clear()
            self._pools_of = senders
        pool = self._pools.get(country)
        if pool is None:
            pool = self._pools[country] = tuple(s.address for s in senders.pool(country))
        return pool[0] if len(pool) == 1 else entropy.choice(pool)

    def text(self, template: str, code: str) -> str:
        """``template`` with the code in it (split once per template, not parsed per
        message)."""
        if template is not self._template:
            self._template = template
            self._template_parts = template.format(code="\0").split("\0")
        return code.join(self._template_parts)


class OpenAuthentications:
    """The users of the authentications this engine began and has not finished."""

    __slots__ = ("_begun", "_stored")

    def __init__(self) -> None:
        self._begun: dict[str, User] = {}
        self._stored = 0

    def remember(self, pending: PendingAuth, user: User, now: float, store: PendingStore) -> None:
        """After a begin is stored: keep the user as read, and purge ``store``'s expired
        records every ``PURGE_EVERY`` begins."""
        self._stored += 1
        if self._stored % PURGE_EVERY == 0:
            store.purge(now)
        if len(self._begun) >= BEGUN_CACHE:
            self._begun.clear()
        self._begun[pending.auth_id] = user

    def forget(self, auth_id: str) -> None:
        self._begun.pop(auth_id, None)

    def user_of(self, pending: PendingAuth, repository: Repository) -> User | None:
        """The user as ``begin`` read it, else (another server's authentication, or one
        pushed out of the bounded memory) the repository's."""
        user = self._begun.get(pending.auth_id)
        return user if user is not None else repository.get_user(pending.user_id)
