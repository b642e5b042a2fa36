"""OATH TOTP hardware tokens: the record, and importers from PSKC and CSV files."""

from mfa.tokens.model import HardwareToken

__all__ = ["HardwareToken"]
