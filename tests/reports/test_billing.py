"""Billing: the seed's rules, priced, with expectations computed by hand.

Usage always comes from a real engine (``Engine.usage``) driven through sign-ins, so these tests
check the chain a planner relies on: what the engine counts × the list prices = the bill.
Default prices (reports/pricing.yaml): $1.40 per unlicensed enabled user a month, $1.40 per 10
authentications, licence $16.80 a year = $1.40 a month.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pyotp
import pytest

from mfa import Engine, InMemoryRepository, ManualClock, MemoryPendingStore, ServerIdentity
from mfa.billing import BillingModel, BillingUsage
from mfa.delivery import SinkGateway
from mfa.errors import BillingModelLocked
from mfa.push_proof import PushDevice
from reports import billing
from reports.loaders import ReportInputError, load_engine_logs, load_run
from tests.reports import fakeruns

MARCH = "2026-03"
PHONES = iter(f"+1425555{n:04d}" for n in range(100, 200))


def at(day: int, hour: int = 12) -> float:
    return datetime(2026, 3, day, hour, tzinfo=UTC).timestamp()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at(2))


@pytest.fixture
def sink() -> SinkGateway:
    return SinkGateway()


def build_engine(clock: ManualClock, sink: SinkGateway, repository: object, key: bytes) -> Engine:
    return Engine(
        server=ServerIdentity("mfa1"),
        clock=clock,
        repository=repository,  # type: ignore[arg-type]
        pending=MemoryPendingStore(),
        gateway=sink,
        secret_key=key,
    )


@pytest.fixture
def engine(clock: ManualClock, sink: SinkGateway) -> Engine:
    return build_engine(clock, sink, InMemoryRepository(), b"billing-test-secret-key-000000")


@pytest.fixture
def prices() -> billing.Pricing:
    return billing.load_pricing()


#: every push user's authenticator app (one key will do: billing does not look at it)
APP = PushDevice.generate()


def enrol(engine: Engine, user_id: str, method: str, *, licensed: bool = False) -> None:
    phone = next(PHONES)
    engine.create_user(user_id, phone=phone, licensed=licensed)
    if method == "push":
        engine.register_method(
            user_id, "push", device_token=f"device-{user_id}-token", public_key=APP.public_key
        )
    else:
        engine.register_method(user_id, method)


def sign_in(engine: Engine, sink: SinkGateway, clock: ManualClock, user_id: str) -> None:
    """A complete, successful sign-in with the user's default method."""
    challenge = engine.begin(user_id)
    clock.advance(20)
    method = challenge.method.value
    if method in ("sms", "voice"):
        phone = engine.get_user(user_id).phone
        code = sink.messages_to(phone)[0].code
        assert engine.verify(challenge.auth_id, code).ok
    elif method == "push":
        number = challenge.number
        signature = APP.answer(challenge.auth_id, True, number)
        assert engine.respond_push(challenge.auth_id, True, signature=signature, number=number).ok
    else:
        secret = next(m.secret for m in engine.repository.list_methods(user_id))
        assert engine.verify(challenge.auth_id, pyotp.TOTP(secret).at(clock.now())).ok
    clock.advance(600)


def costs(engine: Engine, prices: billing.Pricing) -> pd.Series:
    table = billing.monthly_costs(engine.usage(MARCH), prices)
    return table.set_index("model")["total"]


def consumption(engine: Engine, prices: billing.Pricing) -> pd.Series:
    return billing.monthly_costs(engine.usage(MARCH), prices).set_index("model")["consumption"]


def test_default_prices_are_the_cited_historical_list_prices(prices: billing.Pricing) -> None:
    assert prices.per_user_month == 1.40
    assert prices.per_auth == pytest.approx(0.14)
    assert prices.licence_user_month == pytest.approx(1.40)
    assert prices.sms_per_message == prices.voice_per_call == 0.0
    assert prices.historical and "multi-factor-authentication-faq" in prices.source
    assert prices.as_of == "2016-05-12"


def test_a_month_priced_under_each_model(
    engine: Engine, sink: SinkGateway, clock: ManualClock, prices: billing.Pricing
) -> None:
    enrol(engine, "alice", "sms")
    enrol(engine, "bob", "push", licensed=True)
    enrol(engine, "carol", "totp")
    enrol(engine, "dave", "sms")  # enabled, never signs in
    enrol(engine, "erin", "voice", licensed=True)  # licensed, never signs in
    for user in ("alice", "alice", "bob", "carol"):
        sign_in(engine, sink, clock, user)
    engine.create_provider("contoso", "per_user")

    usage = engine.usage(MARCH)
    assert (usage.enabled_users, usage.licensed_users, usage.authentications) == (5, 2, 4)
    table = billing.monthly_costs(usage, prices).set_index("model")
    # per-user: alice, carol, dave = 3 × 1.40; licences held: 2 × 1.40
    assert table.loc["per_user", "consumption"] == pytest.approx(4.20)
    assert table.loc["per_user", "total"] == pytest.approx(7.00)
    # per-auth: 4 × 0.14, plus the same licences
    assert table.loc["per_auth", "consumption"] == pytest.approx(0.56)
    assert table.loc["per_auth", "total"] == pytest.approx(3.36)
    # licences for every enabled user, no provider: 5 × 1.40
    assert table.loc["licences", "total"] == pytest.approx(7.00)
    assert table["current"].tolist() == [True, False, False]
    # break-even: 3 billable of 5 enabled × 1.40 / 0.14 = 6 authentications per user a month
    assert billing.break_even_auths_per_user(usage, prices) == pytest.approx(6.0)


def test_enabled_but_unused_users_are_billed_per_user(
    engine: Engine, sink: SinkGateway, clock: ManualClock, prices: billing.Pricing
) -> None:
    enrol(engine, "alice", "sms")
    sign_in(engine, sink, clock, "alice")
    before = consumption(engine, prices)
    enrol(engine, "idle", "sms")  # never authenticates this month
    after = consumption(engine, prices)
    assert after["per_user"] - before["per_user"] == pytest.approx(1.40)
    assert after["per_auth"] == pytest.approx(before["per_auth"])


def test_licensed_users_are_not_billed_per_user(
    engine: Engine, sink: SinkGateway, clock: ManualClock, prices: billing.Pricing
) -> None:
    enrol(engine, "alice", "sms")
    enrol(engine, "bob", "sms")
    sign_in(engine, sink, clock, "alice")
    before = billing.monthly_costs(engine.usage(MARCH), prices).set_index("model")
    engine.set_licensed("bob", True)
    after = billing.monthly_costs(engine.usage(MARCH), prices).set_index("model")
    assert before.loc["per_user", "consumption"] == pytest.approx(2.80)
    assert after.loc["per_user", "consumption"] == pytest.approx(1.40)
    assert after.loc["per_user", "licences"] == pytest.approx(1.40)


def test_licensed_users_are_still_billed_per_authentication(
    engine: Engine, sink: SinkGateway, clock: ManualClock, prices: billing.Pricing
) -> None:
    enrol(engine, "lic", "sms", licensed=True)
    assert consumption(engine, prices)["per_auth"] == 0.0
    sign_in(engine, sink, clock, "lic")
    sign_in(engine, sink, clock, "lic")
    assert consumption(engine, prices)["per_auth"] == pytest.approx(2 * 0.14)
    assert consumption(engine, prices)["per_user"] == 0.0


@pytest.mark.parametrize("method", ["sms", "voice", "push", "totp"])
def test_the_method_does_not_change_the_per_authentication_cost(
    engine: Engine, sink: SinkGateway, clock: ManualClock, prices: billing.Pricing, method: str
) -> None:
    enrol(engine, "user", method)
    sign_in(engine, sink, clock, "user")
    table = billing.monthly_costs(engine.usage(MARCH), prices).set_index("model")
    # one authentication, whatever carried it: 0.14, and no per-message fee on calls or texts
    assert table.loc["per_auth", "consumption"] == pytest.approx(0.14)
    assert table.loc["per_auth", "message_fees"] == 0.0


def test_refused_sends_are_not_billed(
    engine: Engine, sink: SinkGateway, clock: ManualClock, prices: billing.Pricing
) -> None:
    enrol(engine, "eager", "sms")
    for _ in range(6):  # the sixth send in 5 minutes is refused (rate_limited)
        engine.begin("eager")
        clock.advance(10)
    assert engine.usage(MARCH).authentications == 5
    assert consumption(engine, prices)["per_auth"] == pytest.approx(5 * 0.14)


def test_the_model_is_locked_by_the_engine(engine: Engine, prices: billing.Pricing) -> None:
    engine.create_provider("contoso", BillingModel.PER_USER)
    with pytest.raises(BillingModelLocked):
        engine.change_billing_model(BillingModel.PER_AUTH)
    with pytest.raises(BillingModelLocked):
        engine.create_provider("contoso-2", BillingModel.PER_AUTH)
    # the report's what-if asks the engine the same question and relays its answer
    assert billing.check_model_lock("per_user", "per_user") is None
    message = billing.check_model_lock("per_user", "per_auth")
    assert message is not None and "can't be changed" in message


def test_switch_what_if_prices_the_move_and_counts_push_reactivations(
    engine: Engine, sink: SinkGateway, clock: ManualClock, prices: billing.Pricing
) -> None:
    for n in range(10):
        enrol(engine, f"u{n}", "push" if n < 4 else "sms")
    sign_in(engine, sink, clock, "u0")
    engine.create_provider("contoso", "per_user")
    usage = engine.usage(MARCH)
    what_if = billing.switch_what_if(usage, prices, push_users=4)
    assert (what_if.current, what_if.target) == ("per_user", "per_auth")
    assert what_if.current_cost == pytest.approx(14.00)  # 10 users × 1.40
    assert what_if.target_cost == pytest.approx(0.14)  # one authentication
    assert what_if.monthly_saving == pytest.approx(13.86)
    assert what_if.engine_says and what_if.push_users_to_reactivate == 4
    assert any("4 push user(s) re-activate" in step for step in what_if.steps)
    # the engine agrees on who must re-activate: a new provider stops every push activation
    assert engine.replace_provider("new", "per_auth").push_deactivated == 4
    staying = billing.switch_what_if(usage, prices, push_users=4, target="per_user")
    assert staying.engine_says is None and staying.push_users_to_reactivate == 0


def test_usage_from_logs_counts_as_the_engine_does(
    engine: Engine, sink: SinkGateway, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 2, 27, tzinfo=UTC).timestamp())
    enrol(engine, "alice", "sms")
    sign_in(engine, sink, clock, "alice")  # February: not in March's bill
    clock.set(at(3))
    for _ in range(7):  # 5 sent + 2 refused (not billable)
        engine.begin("alice")
        clock.advance(1)
    clock.set(at(20))
    sign_in(engine, sink, clock, "alice")
    records = [r.to_dict() for r in engine.repository.logs()]
    logs = load_engine_logs(records)
    assert len(logs) == 9
    usage = billing.usage_from_logs(logs, MARCH, enabled_users=1, licensed_users=0)
    assert usage.authentications == engine.usage(MARCH).authentications == 6


def test_usage_from_database_is_engine_usage(tmp_path: Path, clock: ManualClock) -> None:
    from mfa.storage import open_repository
    from mfa.storage.crypto import derive_key

    url = f"sqlite:///{tmp_path / 'mfa.db'}"
    key = derive_key("billing-test-passphrase-0001")
    repository = open_repository(url, secret_key=key)
    sink = SinkGateway()
    live = build_engine(clock, sink, repository, key)
    enrol(live, "alice", "sms")
    enrol(live, "bob", "sms", licensed=True)
    sign_in(live, sink, clock, "alice")
    live.create_provider("contoso", "per_auth")
    expected = live.usage(MARCH)
    repository.close()
    got = billing.usage_from_database(url, MARCH, secret_key="billing-test-passphrase-0001")
    assert got == expected
    assert (got.enabled_users, got.licensed_users, got.authentications) == (2, 1, 1)


def test_a_simulated_window_scaled_to_a_month(tmp_path: Path, prices: billing.Pricing) -> None:
    auths, deliveries, resources = fakeruns.generate(users=50, auths=100, replications=2)
    scenario = {
        "epoch": "2026-01-05T08:00:00+00:00",
        "population": {"users": 1000, "methods": {"sms": 0.7, "push": 0.3}},
        "arrivals": {"duration_s": 600.0},
        "billing": {"model": "per_auth", "licences": 100},
    }
    run = load_run(
        fakeruns.write_run(tmp_path / "run", auths, deliveries, resources, scenario=scenario)
    )
    # by hand, from the rows: the begins the engine accepted (billable), per replication
    billable = sum(a.billable for a in auths) / 2
    linear = billing.usage_from_run(run, linear=True)
    factor = billing.MONTH_SECONDS / 600.0
    assert linear.window_billable == pytest.approx(billable)
    assert linear.usage == BillingUsage(
        "2026-01", BillingModel.PER_AUTH, 1000, 100, round(billable * factor)
    )
    assert linear.push_users == 300
    sms = sum(d.channel == "sms" for d in deliveries) / 2
    assert linear.messages["sms"] == pytest.approx(sms * factor)
    rated = billing.usage_from_run(run, signins_per_user_month=20)
    # 1000 users × 20 sign-ins × (billable per sign-in in the window)
    assert rated.usage.authentications == round(1000 * 20 * billable / 100)
    assert rated.messages["sms"] == pytest.approx(sms * 1000 * 20 / 100)
    default = billing.usage_from_run(run)  # one sign-in per working day, assumed
    assert default.usage.authentications == round(1000 * 21 * billable / 100)
    assert "assumed" in default.rule


def test_pricing_file_overrides_key_by_key(tmp_path: Path) -> None:
    override = tmp_path / "prices.yaml"
    override.write_text("per_user_month: 2.0\nlicence_month: 6.0\n", encoding="utf-8")
    prices = billing.load_pricing(override)
    assert prices.per_user_month == 2.0
    assert prices.licence_user_year == 72.0
    assert prices.per_auth == pytest.approx(0.14)  # untouched default
    assert not prices.historical and str(override) in prices.source
    scenario = billing.load_pricing(scenario_prices={"per_auth": 0.2, "currency": "EUR"})
    assert (scenario.per_auth, scenario.currency) == (0.2, "EUR")


def test_a_partial_pricing_file_over_a_run_prices_one_authentication_right(
    tmp_path: Path,
) -> None:
    """A run's scenario carries ``per_auth: 0.14`` (one authentication); a ``--pricing`` file
    giving only ``per_auth_price`` prices a block of the documented size (10), not of 1."""
    override = tmp_path / "prices.yaml"
    override.write_text("per_auth_price: 1.40\n", encoding="utf-8")
    scenario = {"per_auth": 0.14, "per_user_month": 1.4, "currency": "USD"}
    prices = billing.load_pricing(override, scenario_prices=scenario)
    assert (prices.per_auth_price, prices.per_auth_block) == (1.40, 10)
    assert prices.per_auth == pytest.approx(0.14)
    doubled = tmp_path / "doubled.yaml"
    doubled.write_text("per_auth_price: 2.80\n", encoding="utf-8")
    assert billing.load_pricing(doubled, scenario_prices=scenario).per_auth == pytest.approx(0.28)
    # a file naming both keys, or the block only, still means what it says
    both = tmp_path / "both.yaml"
    both.write_text("per_auth_price: 5.0\nper_auth_block: 100\n", encoding="utf-8")
    assert billing.load_pricing(both, scenario_prices=scenario).per_auth == pytest.approx(0.05)
    block = tmp_path / "block.yaml"
    block.write_text("per_auth_block: 20\n", encoding="utf-8")
    assert billing.load_pricing(block, scenario_prices=scenario).per_auth == pytest.approx(0.07)


def test_a_partial_pricing_file_over_a_real_run_report(tmp_path: Path) -> None:
    """The same through the report of a run directory (scenario.yaml with billing.prices)."""
    from reports.run_report import run_prices
    from sim.scenario import Scenario

    # what a simulator run writes: every scenario default, billing.prices included
    scenario = Scenario().model_dump(mode="json")
    rows = fakeruns.generate(users=5, auths=10, replications=1)
    run = load_run(fakeruns.write_run(tmp_path / "run", *rows, scenario=scenario))
    assert run.scenario["billing"]["prices"]["per_auth"] == pytest.approx(0.14)
    override = tmp_path / "prices.yaml"
    override.write_text("per_auth_price: 1.40\n", encoding="utf-8")
    assert run_prices(run, override).per_auth == pytest.approx(0.14)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("per_user_month: -1\n", "per_user_month"),
        ("per_auth_block: 0\n", "per_auth_block"),
        ("per_user_moth: 1\n", "unknown keys ['per_user_moth']"),
        ("- 1\n- 2\n", "expected a mapping"),
        ("per_user_month: [\n", "not valid YAML"),
    ],
)
def test_a_bad_pricing_file_is_named_with_the_reason(
    tmp_path: Path, text: str, complaint: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ReportInputError, match=re.escape(complaint)) as caught:
        billing.load_pricing(bad)
    assert str(bad) in str(caught.value)


def test_a_run_is_billed_from_what_the_engine_recorded_not_from_begins(tmp_path: Path) -> None:
    """The engine can refuse a begin for reasons other than the send limit (a locked user,
    a method not allowed): only the ``billable`` count it recorded is billed."""
    auths, deliveries, resources = fakeruns.generate(users=20, auths=40, replications=1)
    accepted = [a._replace(billable=a.billable // 2) for a in auths]  # some refused otherwise
    run = load_run(fakeruns.write_run(tmp_path / "run", accepted, deliveries, resources))
    estimate = billing.usage_from_run(run, linear=True)
    assert estimate.window_billable == sum(a.billable for a in accepted)
    assert estimate.window_billable < sum(a.begins - a.rate_limited for a in accepted)


def test_a_run_without_the_engines_billable_count_is_refused_not_guessed(tmp_path: Path) -> None:
    auths, deliveries, resources = fakeruns.generate(users=20, auths=40, replications=1)
    root = fakeruns.write_run(tmp_path / "run", auths, deliveries, resources)
    for part in (root / "auths").glob("*.parquet"):  # a run written before the column existed
        table = pq.read_table(part)
        pq.write_table(table.drop_columns(["billable"]), part)
    with pytest.raises(ReportInputError, match=r"auths.*billable"):
        billing.usage_from_run(load_run(root))
