"""Client-side load balancing over ``--servers``, with nginx's policies."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping, Sequence

from locust.contrib.fasthttp import FastHttpSession

from loadtests.parameters import ROUTING_POLICIES
from loadtests.replies import json_body
from mfa.engine import parse_auth_id

log = logging.getLogger("mfalab.loadtest")


class Router:
    """Client-side load balancing over ``--servers``.

    The policies are nginx's and the simulator's, under the same names.
    ``round_robin`` is nginx's default: one strict rotation of this process's requests, so
    with few users the turns phase-lock (one user against two servers: begin on one, verify
    on the other, every time: ``wrong_server`` 1, not 1/2). ``random`` lands each request
    on a server drawn independently (nginx's ``random``): a verify reaches the server that
    sent the code 1 time in k. ``sticky`` keeps each user on one server; ``auth_id`` sends a
    request about an authentication to the server its auth id names (the routing the seed's
    multi-server setup needs), and a begin round robin.
    """

    def __init__(self, urls: Sequence[str], policy: str, names: Mapping[str, str]) -> None:
        if policy not in ROUTING_POLICIES:
            raise ValueError(f"unknown routing policy {policy!r}")
        self.urls = tuple(urls)
        self.policy = policy
        self.names = dict(names)
        self._pinned = 0
        self._turn = 0
        self._draw = random.Random()

    def _next(self) -> str:
        if self.policy == "random":
            return self.urls[self._draw.randrange(len(self.urls))]
        url = self.urls[self._turn % len(self.urls)]
        self._turn += 1
        return url

    def pin(self) -> str | None:
        """The server a new sticky user keeps (``None`` for the other policies)."""
        if self.policy != "sticky":
            return None
        url = self.urls[self._pinned % len(self.urls)]
        self._pinned += 1
        return url

    def base(self, pinned: str | None = None, auth_id: str | None = None) -> str:
        """Where the next request goes; ``auth_id`` names the authentication it is about."""
        if pinned is not None:
            return pinned
        if self.policy == "auth_id" and auth_id is not None:
            parsed = parse_auth_id(auth_id)
            if parsed is not None and parsed[0] in self.names:
                return self.names[parsed[0]]
        return self._next()


def discover_names(session: FastHttpSession, urls: Iterable[str]) -> dict[str, str]:
    """Server name → URL, from each server's ``GET /healthz`` (which names the server)."""
    names: dict[str, str] = {}
    for url in urls:
        response = session.request("GET", f"{url}/healthz")
        body = json_body(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("server"):
            names.setdefault(str(body["server"]), url)
        else:
            log.warning("%s/healthz did not name a server (status %s)", url, response.status_code)
    return names
