"""TOTP logins: each user enrols an authenticator on start and logs in with its current
code; a second login within one 30 s step waits for the next code (codes are never reused).

    locust -f loadtests/totp.py --host http://127.0.0.1:8001
    python loadtests/totp.py --host http://127.0.0.1:8001
"""

from __future__ import annotations

from locust import run_single_user

from loadtests.common import MfaLoadShape, MfaUser

__all__ = ["MfaLoadShape", "TotpUser"]


class TotpUser(MfaUser):
    flow = "totp"


if __name__ == "__main__":
    run_single_user(TotpUser)
