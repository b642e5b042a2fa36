"""The engine on the SQL repository: full sign-ins, restarts, and servers sharing PostgreSQL.

Uses the engine fixtures of tests/mfa/conftest.py (manual clock, sink outbox).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pyotp
import pytest

from mfa import (
    AuthStatus,
    Challenge,
    Denial,
    DenialReason,
    Engine,
    HardwareToken,
    ManualClock,
)
from mfa.storage.crypto import derive_key
from mfa.storage.sql import SqlRepository

KEY = derive_key("engine-on-sql test passphrase")
PHONE = "+14255550100"
TOKEN_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.fixture
def open_repo(db_url: str) -> Iterator[Callable[[], SqlRepository]]:
    """Opens repository objects on the test's database; each is one server's (or one
    restart's) connection to it. All are closed at the end."""
    opened: list[SqlRepository] = []

    def open_() -> SqlRepository:
        opened.append(SqlRepository(db_url, secret_key=KEY))
        return opened[-1]

    yield open_
    for repo in opened:
        repo.close()


def _challenge(result: Challenge | Denial) -> Challenge:
    assert isinstance(result, Challenge), result
    return result


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_sms_totp_and_hardware_token_sign_ins_on_sql(
    open_repo: Callable[[], SqlRepository],
    make_engine: Callable[..., Engine],
    clock: ManualClock,
    code_to: Callable[[str], str],
) -> None:
    repo = open_repo()
    engine = make_engine(repository=repo)
    engine.create_user("alice", first_name="Alice", last_name="L", phone=PHONE)
    engine.register_method("alice", "sms")
    totp = engine.register_method("alice", "totp")
    engine.import_tokens([HardwareToken("HW-1", TOKEN_SECRET)])
    engine.register_method("alice", "hardware_token", serial="HW-1")

    sms = _challenge(engine.begin("alice", "sms", client_ip="192.0.2.1"))
    clock.advance(8)
    assert (
        engine.verify(sms.auth_id, "000000" if code_to(PHONE) != "000000" else "111111").reason
        is DenialReason.WRONG_CODE
    )
    assert engine.verify(sms.auth_id, code_to(PHONE)).ok

    clock.advance(30)
    app_code = pyotp.TOTP(totp.secret).at(clock.now())
    assert engine.verify(_challenge(engine.begin("alice", "totp")).auth_id, app_code).ok
    again = engine.verify(_challenge(engine.begin("alice", "totp")).auth_id, app_code)
    assert again.reason is DenialReason.REPLAYED

    token_code = pyotp.TOTP(TOKEN_SECRET).at(clock.now())
    hw = _challenge(engine.begin("alice", "hardware_token"))
    assert engine.verify(hw.auth_id, token_code).ok

    records = {r.auth_id: r for r in repo.logs()}
    assert records[sms.auth_id].status is AuthStatus.SUCCESS
    assert records[sms.auth_id].attempts == 2
    assert records[sms.auth_id].phone == PHONE
    assert records[sms.auth_id].client_ip == "192.0.2.1"
    assert records[sms.auth_id].first_name == "Alice"
    assert records[hw.auth_id].status is AuthStatus.SUCCESS
    assert sorted(r.result for r in records.values()) == [
        "pending",
        "success",
        "success",
        "success",
    ]

    # the replayed attempt left its authentication open (1 of 5 attempts used)
    # a restarted server (new repository object, new engine) still refuses the used TOTP value
    restarted = make_engine(repository=open_repo())
    replay = restarted.verify(_challenge(restarted.begin("alice", "totp")).auth_id, app_code)
    assert replay.reason is DenialReason.REPLAYED


@pytest.mark.postgres
def test_two_servers_on_one_postgresql_count_failures_together(
    postgres_url: str,
    make_engine: Callable[..., Engine],
    clock: ManualClock,
    code_to: Callable[[str], str],
) -> None:
    """Lockout (10 consecutive failures) holds across servers, as RFC 4226 §7 asks."""
    repos = [SqlRepository(postgres_url, secret_key=KEY) for _ in range(2)]
    try:
        mfa1 = make_engine("mfa1", repository=repos[0])
        mfa2 = make_engine("mfa2", repository=repos[1])
        mfa1.create_user("bob", phone=PHONE)
        mfa2.register_method("bob", "sms")

        def fail(engine: Engine, times: int) -> None:
            auth = _challenge(engine.begin("bob"))
            wrong = _wrong(code_to(PHONE))
            for _ in range(times):
                clock.advance(1)
                verdict = engine.verify(auth.auth_id, wrong)
                assert verdict.reason is DenialReason.WRONG_CODE

        fail(mfa1, 5)
        fail(mfa2, 4)
        assert repos[0].get_state("bob").consecutive_failures == 9
        fail(mfa2, 1)  # the tenth failure, on the other server
        refused = mfa1.begin("bob")
        assert isinstance(refused, Denial) and refused.reason is DenialReason.LOCKED_OUT
        assert refused.retry_after == pytest.approx(15 * 60, abs=5)
        repos[0].flush_logs()  # mfa1's buffered records, as after its durability bound
        assert {r.server_name for r in repos[1].logs()} == {"mfa1", "mfa2"}
    finally:
        for repo in repos:
            repo.close()


DEVICE_TOKEN = "apns-device-token-0123456789abcdef"


def test_push_device_token_is_sealed_at_rest_and_fingerprinted_in_the_log(
    open_repo: Callable[[], SqlRepository],
    make_engine: Callable[..., Engine],
    db_url: str,
) -> None:
    """Defect 4: the device token was stored and logged in clear. Read past mfalab: the
    SQLite file's bytes (WAL included) and PostgreSQL's rows hold no trace of it."""
    from mfa.push_proof import PushDevice, fingerprint

    device = PushDevice.generate()
    repo = open_repo()
    engine = make_engine(repository=repo)
    engine.create_user("pat")
    method = engine.register_method(
        "pat", "push", device_token=DEVICE_TOKEN, public_key=device.public_key
    )
    c = _challenge(engine.begin("pat"))
    verdict = engine.respond_push(
        c.auth_id, True, number=c.number, signature=device.answer(c.auth_id, True, c.number)
    )
    assert verdict.ok
    # a restart reads the method back: the token decrypts, the key is kept
    again = open_repo().list_methods("pat")[0]
    assert (again.device_token, again.public_key) == (DEVICE_TOKEN, device.public_key)
    assert again.method_id == method.method_id
    assert [r.device_token for r in repo.logs()] == [fingerprint(DEVICE_TOKEN)]
    repo.close()
    if db_url.startswith("sqlite"):
        path = Path(db_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert b"pat" in raw  # the bytes do hold the tables
        assert DEVICE_TOKEN.encode() not in raw
        assert DEVICE_TOKEN.encode("utf-16-le") not in raw
    else:
        import sqlalchemy as sa

        engine_ = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            with engine_.connect() as conn:
                tables = sa.inspect(conn).get_table_names()
                dump = "\n".join(
                    repr(row)
                    for t in tables
                    for row in conn.execute(sa.text(f'SELECT * FROM "{t}"'))
                )
        finally:
            engine_.dispose()
        assert "pat" in dump
        assert DEVICE_TOKEN not in dump
