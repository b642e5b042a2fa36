"""Push logins: begin → the device approves → the login page polls the status.

locust -f loadtests/push.py --host http://127.0.0.1:8001
python loadtests/push.py --host http://127.0.0.1:8001
"""

from __future__ import annotations

from locust import run_single_user

from loadtests.common import MfaLoadShape, MfaUser

__all__ = ["MfaLoadShape", "PushUser"]


class PushUser(MfaUser):
    flow = "push"


if __name__ == "__main__":
    run_single_user(PushUser)
