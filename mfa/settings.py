"""Configuration from the environment (``MFALAB_*``), shared by the server and the CLI.

Settings are built where they are needed (``Settings()``), never held in a module global,
so tests and cluster processes each get their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MFALAB_", extra="ignore")

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
