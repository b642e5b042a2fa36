"""One line of a directory sync: a user to create together with their first method.

MFA Server takes its users from a directory (the seed: "synchronize identities") and enrols
them in bulk; ``Engine.enrol_many`` takes a batch of these, checks every one and stores all
of them or none.
"""

from __future__ import annotations

from dataclasses import dataclass

from mfa.methods import MethodType

__all__ = ["Enrolment"]


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A user and their first (default) method. sms/voice need ``phone`` (the user's number,
    in international form), push may carry the app's ``device_token`` and ``public_key``
    (then it is active at once), a hardware token needs the ``serial`` of an imported,
    unassigned token."""

    user_id: str
    method: MethodType | str
    phone: str | None = None
    serial: str | None = None
    device_token: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    licensed: bool = False
    public_key: str | None = None
