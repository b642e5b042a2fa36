"""A population logging in with every method, weighted by ``--mix`` (default
``sms=6,push=2,totp=1,app_password=1``): the scenario of a login storm. Attackers mix in
as flows too (``--mix sms=0.9,pumping=0.1``: loadtests/pumping.py, loadtests/push_bombing.py).

    locust -f loadtests/mixed.py --host http://127.0.0.1:8001 --mix sms=8,push=2
    locust -f loadtests/mixed.py --headless --rate 50 --shape storm -t 2m --host ...
    python loadtests/mixed.py --host http://127.0.0.1:8001

The flows are the other locustfiles' own. The weights are options, not ``@task(n)``
weights, because ``--mix`` is read at run time (and travels to the workers); each login
draws its flow from the run's seeded random numbers, so ``--seed`` repeats a mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from locust import run_single_user, task

from loadtests.app_password import AppPasswordFlow
from loadtests.options import LoadOptions
from loadtests.pumping import PumpingFlow
from loadtests.push import PushFlow
from loadtests.push_bombing import PushBombingFlow
from loadtests.shapes import MfaLoadShape
from loadtests.sms import SmsFlow
from loadtests.totp import TotpFlow
from loadtests.user import Flow, MfaUser, think_time

__all__ = ["MfaLoadShape", "MixedUser"]


class MixedUser(MfaUser):
    """A person who signs in with any method, in the proportions of ``--mix``."""

    flow_types: ClassVar[Mapping[str, type[Flow]]] = {
        flow.name: flow
        for flow in (SmsFlow, TotpFlow, PushFlow, AppPasswordFlow, PumpingFlow, PushBombingFlow)
    }
    wait_time = think_time

    @classmethod
    def flow_weights(cls, options: LoadOptions) -> Mapping[str, float]:
        return options.mix

    @task
    def sign_in_by_mix(self) -> None:
        self.sign_in(self.pick_flow())


if __name__ == "__main__":
    run_single_user(MixedUser)
