"""mfalab's reference MFA engine: the single source of truth for MFA semantics.

Time enters only through a ``Clock``; I/O only through the delivery gateway, the pending
store and the repository ports.
"""

from mfa.auth_log import AuthLogRecord
from mfa.billing import BillingModel, BillingUsage, ProviderAccount, ProviderMove, ProviderUsage
from mfa.clock import Clock, ManualClock, SystemClock
from mfa.engine import AuthView, Engine, ServerIdentity, parse_auth_id
from mfa.enrolment import Enrolment
from mfa.entropy import Entropy, SecretsEntropy, SeededEntropy
from mfa.errors import (
    BillingModelLocked,
    ConflictError,
    DeliveryError,
    EnrolmentError,
    InvalidInput,
    MfaError,
    NotFound,
    ServiceUnavailable,
    TokenImportError,
)
from mfa.fraud_counters import FraudCounters, MemoryFraudCounters
from mfa.methods import MethodType, RegisteredMethod
from mfa.outcomes import Challenge, Denial, Verdict
from mfa.pending import MemoryPendingStore, PendingAuth, PendingStore, SharedPendingStore
from mfa.policy import (
    CLOUD_TIMEOUT_SECONDS,
    SERVER_TIMEOUT_SECONDS,
    FraudPolicy,
    Mode,
    Policy,
    security_defaults,
)
from mfa.reasons import AuthResult, AuthStatus, DenialReason, FraudRule, RegistrationReason
from mfa.repository import InMemoryRepository, Repository
from mfa.tokens.model import HardwareToken
from mfa.users import User, UserChange, UserFact, parse_phone

__version__ = "0.1.0"

__all__ = [
    "CLOUD_TIMEOUT_SECONDS",
    "SERVER_TIMEOUT_SECONDS",
    "AuthLogRecord",
    "AuthResult",
    "AuthStatus",
    "AuthView",
    "BillingModel",
    "BillingModelLocked",
    "BillingUsage",
    "Challenge",
    "Clock",
    "ConflictError",
    "DeliveryError",
    "Denial",
    "DenialReason",
    "Engine",
    "Enrolment",
    "EnrolmentError",
    "Entropy",
    "FraudCounters",
    "FraudPolicy",
    "FraudRule",
    "HardwareToken",
    "InMemoryRepository",
    "InvalidInput",
    "ManualClock",
    "MemoryFraudCounters",
    "MemoryPendingStore",
    "MethodType",
    "MfaError",
    "Mode",
    "NotFound",
    "PendingAuth",
    "PendingStore",
    "Policy",
    "ProviderAccount",
    "ProviderMove",
    "ProviderUsage",
    "RegisteredMethod",
    "RegistrationReason",
    "Repository",
    "SecretsEntropy",
    "SeededEntropy",
    "ServerIdentity",
    "ServiceUnavailable",
    "SharedPendingStore",
    "SystemClock",
    "TokenImportError",
    "User",
    "UserChange",
    "UserFact",
    "Verdict",
    "__version__",
    "parse_auth_id",
    "parse_phone",
    "security_defaults",
]
