"""OATH TOTP hardware tokens: the record (``model``) and the file readers (``pskc``,
``csv_import``, and ``importer.parse_token_file`` in front of both).

The readers are not imported here, so ``import mfa`` stays light; import
``mfa.tokens.importer`` where files are read.
"""

from mfa.tokens.model import HardwareToken, token_problems

__all__ = ["HardwareToken", "token_problems"]
