"""SMS pumping: bots obtain accounts with numbers in the attacked ranges and ask for codes
from a set of client IPs, never verifying one (docs/loadtests.md).

    locust -f loadtests/pumping.py --host http://127.0.0.1:8001 --attack-prefixes +1305555
    locust -f loadtests/mixed.py --mix sms=0.9,pumping=0.1 --host ... \\
        --threshold "refused_ratio[pumping]>=0.5,success_ratio[sms]>=0.95"
    python loadtests/pumping.py --host http://127.0.0.1:8001

One "login" is one code asked for; it succeeds when the code is sent (the attacker's
success) and fails with the server's reason when it is refused (``fraud_suspected``,
``country_blocked``). A bot moves to a new account after the engine's send limit, so what
refuses it is the fraud defences, not the per-user limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from locust import run_single_user, task

from loadtests.attackers import attack_number, attacker_ip, begin_attack, enrol_account
from loadtests.options import ENGINE_DEFAULTS
from loadtests.shapes import MfaLoadShape
from loadtests.user import Flow, MfaUser, think_time

__all__ = ["MfaLoadShape", "PumpingFlow", "PumpingUser"]


class PumpingFlow(Flow):
    """A bot: an account with a number in one of ``--attack-prefixes`` (a new one every
    ``max_sends`` codes), a code asked for from one of ``--attack-ips`` client IPs."""

    name = "pumping"

    def __init__(self, user: MfaUser) -> None:
        super().__init__(user)
        self.account: str | None = None
        self.sends = 0

    def login(self) -> str | None:
        context = self.user.shared
        if self.account is None or self.sends >= ENGINE_DEFAULTS.max_sends:
            failed = self._new_account()
            if failed:
                return failed
        assert self.account is not None
        ip = attacker_ip(context.rng, context.options.attack_ips)
        self.sends += 1
        return begin_attack(self.user, self.name, self.account, "sms", ip).reason

    def _new_account(self) -> str | None:
        context = self.user.shared
        prefix = context.rng.choice(context.options.attack_prefixes)
        user_id = context.new_user_id(self.name)
        phone = attack_number(prefix, context.rng)
        failed = enrol_account(self.user, user_id, {"type": "sms"}, phone)
        if failed:
            return failed
        self.account, self.sends = user_id, 0
        return None


class PumpingUser(MfaUser):
    """A pumping bot asking for codes, never typing one."""

    flow_types: ClassVar[Mapping[str, type[Flow]]] = {"pumping": PumpingFlow}
    wait_time = think_time

    @task
    def pump(self) -> None:
        self.sign_in(self.flows["pumping"])


if __name__ == "__main__":
    run_single_user(PumpingUser)
