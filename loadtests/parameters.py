"""Values both the ``mfalab loadtest`` command line and the locustfiles parse.

The command line (``mfalab.cli.loadtest``, the composition root) sits above the load tests,
so what the two share lives here, below it: the routing policy names and Locust's duration
forms.
"""

from __future__ import annotations

import argparse
import re

__all__ = ["ROUTING_POLICIES", "parse_duration"]

#: How a cluster's requests are spread: by the load generator, or by nginx (same names).
#: The names of the simulator's ``servers.lb_policy`` and nginx's policies (mfa.api.nginx).
ROUTING_POLICIES = ("round_robin", "random", "sticky", "auth_id")


def parse_duration(text: str) -> float:
    """``"90"``, ``"90s"``, ``"1m30s"``, ``"2h"`` → seconds (the forms of Locust's ``-t``)."""
    cleaned = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        return float(cleaned)
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", cleaned)
    if not cleaned or parts is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration (use seconds, or e.g. 90s, 1m30s, 2h)"
        )
    hours, minutes, seconds = parts.groups()
    return int(hours or 0) * 3600.0 + int(minutes or 0) * 60.0 + float(seconds or 0)
