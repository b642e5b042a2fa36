"""The closed vocabularies of outcomes: results, denial reasons, statuses.

The seed says the verification result and, when denied, the reason are stored with the
authentication data. Reports, metrics and load-test failure rows all key on these values,
so they are enums whose string values are part of the public contract.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AuthResult", "AuthStatus", "DenialReason", "FraudRule", "RegistrationReason"]


class AuthResult(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"


class DenialReason(StrEnum):
    WRONG_CODE = "wrong_code"
    EXPIRED = "expired"
    UNKNOWN_AUTH = "unknown_auth"
    WRONG_SERVER = "wrong_server"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    LOCKED_OUT = "locked_out"
    REPLAYED = "replayed"
    RATE_LIMITED = "rate_limited"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACTIVATED = "not_activated"
    REGISTRATION_REQUIRED = "registration_required"
    #: Extension: the user pressed "Deny" in the authenticator app (a fraud signal,
    #: not a typing error, so it is kept apart from ``wrong_code``).
    USER_DENIED = "user_denied"
    #: Every provider refused or failed to take the message (HTTP 502); the send counts.
    DELIVERY_FAILED = "delivery_failed"
    #: The user is disabled for MFA: nothing is sent and nothing is billed (HTTP 403).
    USER_DISABLED = "user_disabled"
    #: A push answer whose Ed25519 signature is missing or is not the activated device's
    #: (see ``mfa.push_proof``): whoever sent it does not hold the app's key.
    BAD_SIGNATURE = "bad_signature"
    #: A push approval with another number than the sign-in page showed (number matching);
    #: counts as a failure toward the user's lockout.
    WRONG_NUMBER = "wrong_number"
    #: sms/voice to a country outside the policy's geo permissions (``FraudPolicy``): not
    #: sent, not billed, not counted toward the user's send limit (HTTP 403).
    COUNTRY_BLOCKED = "country_blocked"
    #: A fraud defence (``mfa.fraud``) refused the send: not sent, not billed, not counted
    #: toward the user's send limit (HTTP 403). Which rule fired (``FraudRule``) goes to the
    #: log only, never to the caller: an attacker must not learn what to rotate.
    FRAUD_SUSPECTED = "fraud_suspected"


class FraudRule(StrEnum):
    """Which fraud defence refused a send (``fraud_suspected``): the log's ``fraud_rule``."""

    #: Too many sends to one number range (country + first digits) in the window.
    RANGE_VELOCITY = "range_velocity"
    #: Too few of the codes sent to the country or range were verified, with enough volume.
    CONVERSION = "conversion"
    #: Too many sends asked for from one client IP in the window.
    CLIENT_IP = "client_ip"


class AuthStatus(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    DENIED = "denied"
    EXPIRED = "expired"


class RegistrationReason(StrEnum):
    """Why a user is prompted to register security information (from the seed's list)."""

    NO_METHOD_REGISTERED = "no_method_registered"
    REGISTRATION_POLICY = "registration_policy"
    DEFAULT_METHOD_DISABLED = "default_method_disabled"
    ADMIN_RESET = "admin_reset"
