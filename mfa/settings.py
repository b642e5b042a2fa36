"""Configuration from the environment (``MFALAB_*``), shared by the server and the CLI.

Settings are built where they are needed (``Settings()``), never held in a module global,
so tests and cluster processes each get their own. A bad value fails at start-up with the
name of its environment variable, not on the first request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mfa.limits import PSKC_MAX_ITERATIONS
from mfa.policy import FraudPolicy

__all__ = ["Settings", "shared_store_problem"]

_SIMULATED = "simulated:"
#: The fraud defences' defaults come from the engine's policy, never a copy of them.
_FRAUD = FraudPolicy()
_REDIS = ("redis://", "rediss://", "unix://")


def shared_store_problem(*, mode: str, pending: str, processes: int) -> str | None:
    """Why a deployment cannot start, or ``None``: cloud mode means every server validates
    every code (it never answers ``wrong_server``), which several processes can only do
    with a shared pending store. A single cloud server may keep its codes in memory."""
    if mode == "cloud" and pending == "memory" and processes > 1:
        return (
            f"cloud mode on {processes} server processes needs a shared pending store: "
            "set the pending store to a redis:// URL (MFALAB_PENDING, --pending), or run "
            "in server mode"
        )
    return None


#: Engine threads per server process when a store is across the network (PostgreSQL, Redis):
#: a sign-in then waits on round trips, and while one waits another runs. Two, measured
#: (``bench/backends_bench.py --setups postgres-1``, 32 users, 2 interleaved rounds): 8
#: threads 217–219 sign-ins/s at 4.1 ms server CPU each, 4 threads 217–247 at 3.6–4.0 ms,
#: 2 threads 274–286 at 2.9–3.0 ms — more threads mostly switch between each other, since
#: few round trips are left to wait on. Within the database pool's size.
ENGINE_THREADS_NETWORKED = 2


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MFALAB_", extra="ignore")

    #: Bearer key every ``/v1`` call must present (required to serve).
    api_key: SecretStr | None = None
    db_url: str = Field(default_factory=lambda: f"sqlite:///{Path('var') / 'mfalab.db'}")
    #: ``memory`` (server mode: codes in this server's memory) or a ``redis://`` URL.
    pending: str = "memory"
    mode: Literal["server", "cloud"] = "server"
    otp_timeout: float = 300.0
    server_name: str = "mfa1"
    server_ip: str = "127.0.0.1"
    #: ``sink`` or ``simulated:scenarios/<x>.yaml``.
    gateway: str = "sink"
    #: Key for encryption at rest and for code digests (urlsafe base64 Fernet key or any
    #: passphrase of 16+ characters; a key is derived from it).
    secret_key: SecretStr | None = None
    #: Key prefix in Redis, so several clusters (or test runs) can share one Redis.
    redis_namespace: str = "mfalab"
    #: Other servers of the cluster (comma-separated base URLs). ``GET /v1/sink/messages``
    #: asks them too, because a phone receives a code whichever server sent it.
    sink_peers: str = ""
    #: The most PBKDF2 iterations an encrypted PSKC file may ask for (checked before the key
    #: is derived: the file chooses the count, and 2^31 would hold a CPU for minutes).
    pskc_max_iterations: int = Field(default=PSKC_MAX_ITERATIONS, ge=1)
    #: Seconds a Redis call may take (connect, read, write) before the pending store is
    #: reported unavailable (503); at most 1 s by default so an outage never hangs a server.
    redis_timeout: float = Field(default=1.0, gt=0, le=60)
    #: Seconds to connect to the database and, on PostgreSQL, for one statement.
    db_timeout: float = Field(default=1.0, gt=0, le=600)
    #: Push number matching (``Policy.push_number_matching``): the sign-in page shows two
    #: digits that the person types into the app. On unless turned off.
    push_number_matching: bool = True
    #: The fraud defences (``mfa.policy.FraudPolicy``, docs/api.md); a defence whose switch
    #: is unset is off. Geo permissions: the ISO 3166 alpha-2 countries sms/voice may go
    #: to, comma-separated.
    fraud_allowed_countries: str = ""
    fraud_range_prefix_digits: int = Field(default=_FRAUD.range_prefix_digits, ge=1, le=15)
    fraud_range_max_sends: int | None = Field(default=None, ge=1)
    fraud_range_window: float = Field(default=_FRAUD.range_window_seconds, gt=0)
    fraud_conversion_min_rate: float | None = Field(default=None, gt=0, le=1)
    fraud_conversion_min_sends: int = Field(default=_FRAUD.conversion_min_sends, ge=1)
    fraud_conversion_window: float = Field(default=_FRAUD.conversion_window_seconds, gt=0)
    fraud_conversion_grace: float = Field(default=_FRAUD.conversion_grace_seconds, ge=0)
    fraud_ip_max_sends: int | None = Field(default=None, ge=1)
    fraud_ip_window: float = Field(default=_FRAUD.ip_window_seconds, gt=0)
    #: Where the fraud counters live: ``memory`` (this process) or a ``redis://`` URL, which
    #: every server of a cluster must share; by default MFALAB_PENDING when that is Redis.
    fraud_counters: str = ""
    #: Threads that run the engine's sign-in steps off the event loop (0: on the loop).
    #: Unset: 0 when every store is in this process (SQLite, codes and counters in memory:
    #: a thread hop would cost more than the step), else ``ENGINE_THREADS_NETWORKED``.
    engine_threads: int | None = Field(default=None, ge=0, le=256)

    @field_validator("fraud_allowed_countries")
    @classmethod
    def _countries(cls, value: str) -> str:
        for country in (c.strip() for c in value.split(",") if c.strip()):
            if not (len(country) == 2 and country.isascii() and country.isalpha()):
                raise ValueError(f"{country!r} is not an ISO 3166 alpha-2 country code")
        return value

    @field_validator("fraud_counters")
    @classmethod
    def _counters(cls, value: str) -> str:
        if value not in ("", "memory") and not value.startswith(_REDIS):
            raise ValueError("MFALAB_FRAUD_COUNTERS must be 'memory' or a redis:// URL")
        return value

    @property
    def fraud_policy(self) -> FraudPolicy:
        """The fraud defences these settings turn on (all off when none is set)."""
        countries = frozenset(
            c.strip().upper() for c in self.fraud_allowed_countries.split(",") if c.strip()
        )
        return FraudPolicy(
            allowed_countries=countries or None,
            range_prefix_digits=self.fraud_range_prefix_digits,
            range_max_sends=self.fraud_range_max_sends,
            range_window_seconds=self.fraud_range_window,
            conversion_min_rate=self.fraud_conversion_min_rate,
            conversion_min_sends=self.fraud_conversion_min_sends,
            conversion_window_seconds=self.fraud_conversion_window,
            conversion_grace_seconds=self.fraud_conversion_grace,
            ip_max_sends=self.fraud_ip_max_sends,
            ip_window_seconds=self.fraud_ip_window,
        )

    @property
    def engine_thread_count(self) -> int:
        """``engine_threads``, or its default for these stores (see there)."""
        if self.engine_threads is not None:
            return self.engine_threads
        local = (
            self.db_url.startswith("sqlite")
            and self.pending == "memory"
            and self.fraud_counters_url == "memory"
        )
        return 0 if local else ENGINE_THREADS_NETWORKED

    @property
    def fraud_counters_url(self) -> str:
        """``memory`` or the Redis URL of the fraud counters (see ``fraud_counters``)."""
        if self.fraud_counters:
            return self.fraud_counters
        return self.pending if self.pending.startswith(_REDIS) else "memory"

    @field_validator("pending")
    @classmethod
    def _pending(cls, value: str) -> str:
        if value != "memory" and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("MFALAB_PENDING must be 'memory' or a redis:// URL")
        return value

    @field_validator("otp_timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("MFALAB_OTP_TIMEOUT must be positive")
        return value

    @field_validator("gateway")
    @classmethod
    def _gateway(cls, value: str) -> str:
        if value == "sink":
            return value
        if value.startswith(_SIMULATED) and value[len(_SIMULATED) :].strip():
            return value
        raise ValueError("MFALAB_GATEWAY must be 'sink' or 'simulated:<scenario.yaml>'")

    @field_validator("api_key")
    @classmethod
    def _api_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("MFALAB_API_KEY must not be empty")
        return value

    @property
    def scenario_path(self) -> str | None:
        """The scenario file of a ``simulated:`` gateway, else None."""
        if self.gateway.startswith(_SIMULATED):
            return self.gateway[len(_SIMULATED) :].strip()
        return None

    @property
    def peer_urls(self) -> list[str]:
        return [url.strip().rstrip("/") for url in self.sink_peers.split(",") if url.strip()]
