"""The rows a simulation run writes: the contract between ``sim`` and ``reports``.

A run directory (``mfalab run … --out runs/NAME``) holds:

- ``auths/part-*.parquet``       one ``AuthRow`` per authentication (a user's sign-in,
                                  including every resend, retry and method fallback);
- ``deliveries/part-*.parquet``  one ``DeliveryRow`` per message sent (sms, voice, push);
- ``resources.parquet``          ``ResourceSample`` rows: queue length and utilisation of
                                  senders, providers and servers over time (for senders and
                                  providers ``busy`` counts the messages they handled in the
                                  preceding sample interval; for servers, the busy slots);
- ``scenario.yaml``              the fully resolved scenario (defaults filled in);
- ``meta.json``                  seed, replications, scale, mfalab version, wall time;
- ``summary.json``               the summary table printed at the end of the run.

Times are simulated seconds since the start of the run (floats); a missing time is NaN.
String enums are stored as their ``.value``. Each row kind is a ``NamedTuple``: the
simulator builds its rows by field name, and the columns, their order (``*_COLUMNS``) and
the Parquet schema (``sim.output.arrow_schema``) all come from the class below, so adding
a column is one edit here plus the keyword where the row is built. Being tuples, rows go
to the Parquet writer as they are, with no conversion per row. ``reports.loaders``
documents the dtypes.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "AUTH_COLUMNS",
    "DELIVERY_COLUMNS",
    "RESOURCE_COLUMNS",
    "AuthRow",
    "DeliveryRow",
    "ResourceSample",
]


class AuthRow(NamedTuple):
    replication: int
    auth_seq: int  # 0.. within the replication, in arrival order
    user_id: str
    country: str  # ISO 3166 alpha-2 of the user's phone
    carrier: str
    licensed: bool
    method_first: str  # the method tried first (sms, voice, push, totp, …)
    methods_used: str  # every method tried, in order, joined by ">" ("sms>push")
    arrived_at: float
    finished_at: float  # success, final denial or abandonment time
    outcome: str  # "success" | "denied" | "abandoned"
    reason: str  # last denial reason from the engine, or abandonment cause;
    # "" on success
    begins: int  # begin calls (sends for sms/voice) across methods
    verifies: int  # verify/respond calls
    time_to_auth: float  # finished_at - arrived_at on success, NaN otherwise
    servers: str  # servers that handled the calls, in order, joined by ">"
    wrong_server: int  # verify denials with reason wrong_server
    expired: int  # … expired
    rate_limited: int  # begin denials rate_limited
    first_sender: str  # sender of the first sms/voice, "" if none
    first_sender_kind: str  # short_code | long_code | ""
    first_provider: str  # provider of the first send, "" if none
    # --- added by the simulator (after the agreed columns) ---
    server_wait: float = 0.0  # seconds this authentication's calls queued at servers
    connectivity: str = ""  # wifi_and_cellular | cellular | wifi_only | none (at sign-in)
    signal: str = ""  # good | poor (cellular signal at sign-in)
    security_app: bool = False  # a security app blocked texts/calls at the start
    billable: int = 0  # begins the engine accepted (each leaves a billable log record)


class DeliveryRow(NamedTuple):
    replication: int
    auth_seq: int
    attempt: int  # 1.. within the authentication
    auth_id: str
    channel: str  # sms | voice | push
    country: str
    carrier: str
    provider: str
    sender: str
    sender_kind: str
    server: str
    requested_at: float  # when the engine handed the message to the gateway
    sent_at: float  # when the sender's throughput queue released it
    delivered_at: float  # when it reached the phone/app; NaN if lost
    loss_cause: str  # "" if delivered; carrier_loss | security_app | no_signal |
    # provider_error | unanswered | push_lost | queue_expired
    # --- added by the simulator (after the agreed columns) ---
    failovers: int = 0  # providers that refused this message before one took it


class ResourceSample(NamedTuple):
    replication: int
    time: float
    kind: str  # sender | provider | server
    name: str
    queue_length: int
    busy: int
    capacity: float  # messages/s for senders and providers, slots for servers
    # --- added by the simulator (after the agreed columns) ---
    utilisation: float = 0.0  # senders: busy time in the preceding interval over
    # interval (at most 1); providers: messages accepted in it over capacity x interval,
    # at most 1 (the one-second burst may pass the rate); servers: busy / slots at the time


AUTH_COLUMNS: tuple[str, ...] = AuthRow._fields
DELIVERY_COLUMNS: tuple[str, ...] = DeliveryRow._fields
RESOURCE_COLUMNS: tuple[str, ...] = ResourceSample._fields
