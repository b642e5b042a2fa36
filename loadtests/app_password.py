"""App-password sign-ins (non-browser apps): each user creates an app password on start
and signs in with it; the server checks it against an argon2 hash, so this flow shows the
cost of hashing under load.

    locust -f loadtests/app_password.py --host http://127.0.0.1:8001
    python loadtests/app_password.py --host http://127.0.0.1:8001
"""

from __future__ import annotations

from locust import run_single_user

from loadtests.common import MfaLoadShape, MfaUser

__all__ = ["AppPasswordUser", "MfaLoadShape"]


class AppPasswordUser(MfaUser):
    flow = "app_password"


if __name__ == "__main__":
    run_single_user(AppPasswordUser)
