"""``mfalab demo``: a short engine walk-through on the embedded defaults."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("demo", help="walk through one sms sign-in on the engine")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from mfa import Engine, InMemoryRepository, ManualClock, MemoryPendingStore, ServerIdentity
    from mfa.delivery import SinkGateway

    clock = ManualClock()
    sink = SinkGateway()
    engine = Engine(
        server=ServerIdentity("mfa1"),
        clock=clock,
        repository=InMemoryRepository(),
        pending=MemoryPendingStore(),
        gateway=sink,
        secret_key=b"demo-key-not-for-production-use!",
    )
    engine.create_user("alice", phone="+14255550100")
    engine.register_method("alice", "sms")
    challenge = engine.begin("alice")
    print(f"begin: {challenge}")
    message = sink.messages_to("+14255550100")[0]
    print(f"sms from {message.sender}: (code withheld)")
    clock.advance(12)
    assert message.code is not None
    print(f"verify: {engine.verify(challenge.auth_id, message.code)}")  # type: ignore[union-attr]
    return 0
