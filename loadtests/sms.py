"""SMS logins: begin → the phone reads the text → verify; a late or lost text is asked for
again (``--code-wait``, ``--max-sends``).

    locust -f loadtests/sms.py --host http://127.0.0.1:8001          # web UI on :8089
    locust -f loadtests/sms.py --headless -u 20 -t 30s \\
        --servers http://127.0.0.1:8001,http://127.0.0.1:8002 --lb auth_id
    python loadtests/sms.py --host http://127.0.0.1:8001             # one user, for debugging
"""

from __future__ import annotations

from locust import run_single_user

from loadtests.common import MfaLoadShape, MfaUser

__all__ = ["MfaLoadShape", "SmsUser"]


class SmsUser(MfaUser):
    flow = "sms"


if __name__ == "__main__":
    run_single_user(SmsUser)
