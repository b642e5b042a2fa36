"""Push bombing (MFA fatigue): an attacker holding a victim's password begins push after
push; the tired victim approves one blindly with a probability (``--blind-approval``). With
number matching the victim must type a number the attacker's sign-in page shows and the
victim never saw: a blind guess among 90 (docs/loadtests.md).

    locust -f loadtests/push_bombing.py --host http://127.0.0.1:8001 --blind-approval 0.3
    locust -f loadtests/mixed.py --mix sms=0.9,push_bombing=0.1 --host ... \\
        --threshold "success_ratio[push_bombing]<0.02"
    python loadtests/push_bombing.py --host http://127.0.0.1:8001

One "login" is one push begun for the victim; it succeeds when the account is taken over.
Failures name why not: refused at begin (``rate_limited``, ``fraud_suspected``),
``ignored`` (the victim did not approve), ``wrong_number`` (approved with a wrong guess).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from locust import run_single_user, task

from loadtests.attackers import attack_number, attacker_ip, begin_attack, enrol_account
from loadtests.names import N_RESPOND
from loadtests.shapes import MfaLoadShape
from loadtests.user import Flow, MfaUser, think_time
from mfa.begin import PUSH_NUMBERS
from mfa.push_proof import PushDevice

__all__ = ["MfaLoadShape", "PushBombingFlow", "PushBombingUser"]


class PushBombingFlow(Flow):
    """The attacker's victim: an account with an activated push method (enrolled on start,
    its app's key held by the simulated victim), bombed from ``--attack-ips``."""

    name = "push_bombing"

    def __init__(self, user: MfaUser) -> None:
        super().__init__(user)
        self.victim: str | None = None
        self.device = PushDevice.generate()

    def enrol(self) -> str | None:
        context = self.user.shared
        user_id = context.new_user_id(self.name)
        method = {
            "type": "push",
            "device_token": f"device-{user_id}",
            "public_key": self.device.public_key,
        }
        phone = attack_number("+1646555", context.rng)
        failed = enrol_account(self.user, user_id, method, phone)
        if not failed:
            self.victim = user_id
        return failed

    def login(self) -> str | None:
        context = self.user.shared
        if self.victim is None:
            return self.enrol() or self.login()
        ip = attacker_ip(context.rng, context.options.attack_ips)
        begun = begin_attack(self.user, self.name, self.victim, "push", ip)
        if not begun.ok:
            return begun.reason
        if context.rng.random() >= context.options.blind_approval:
            return "ignored"
        auth_id = str(begun.get("auth_id"))
        shown = begun.get("number")  # on the attacker's page, never on the victim's phone
        typed = context.rng.randint(*PUSH_NUMBERS) if isinstance(shown, int) else None
        body: dict[str, Any] = {
            "approve": True,
            "signature": self.device.answer(auth_id, True, typed),
        }
        if typed is not None:
            body["number"] = typed
        answer = self.user.call(
            "POST", f"/v1/push/{auth_id}/respond", N_RESPOND, body, auth_id=auth_id
        )
        return answer.reason


class PushBombingUser(MfaUser):
    """An attacker bombing one victim with push notifications."""

    flow_types: ClassVar[Mapping[str, type[Flow]]] = {"push_bombing": PushBombingFlow}
    wait_time = think_time

    @task
    def bomb(self) -> None:
        self.sign_in(self.flows["push_bombing"])


if __name__ == "__main__":
    run_single_user(PushBombingUser)
