"""A population logging in with every method, weighted by ``--mix`` (default
``sms=6,push=2,totp=1,app_password=1``): the scenario of a login storm.

    locust -f loadtests/mixed.py --host http://127.0.0.1:8001 --mix sms=8,push=2
    locust -f loadtests/mixed.py --headless --rate 50 --shape storm -t 2m --host ...
    python loadtests/mixed.py --host http://127.0.0.1:8001
"""

from __future__ import annotations

from collections.abc import Mapping

from locust import run_single_user

from loadtests.common import LoadOptions, MfaLoadShape, MfaUser

__all__ = ["MfaLoadShape", "MixedUser"]


class MixedUser(MfaUser):
    @classmethod
    def flow_weights(cls, options: LoadOptions) -> Mapping[str, float]:
        return options.mix


if __name__ == "__main__":
    run_single_user(MixedUser)
