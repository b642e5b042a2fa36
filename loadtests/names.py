"""Request names and the kinds of the login statistics.

Names are URL templates, so Locust groups every auth id under one row; the kinds are the
custom rows kept beside Locust's request table (``LOGIN``, ``ARRIVAL``, ``SETUP``)."""

from __future__ import annotations

#: Request names: URL templates, so Locust groups every auth id under one row.
N_BEGIN = "/v1/auth ({flow})"
N_VERIFY = "/v1/auth/{{auth_id}}/verify ({flow})"
N_SINK = "/v1/sink/messages (phone)"
N_RESPOND = "/v1/push/{auth_id}/respond"
N_STATUS = "/v1/auth/{auth_id} (push status)"
N_APP_PASSWORD = "/v1/auth/app-password"
N_SETUP_USER = "/v1/users (setup)"
N_SETUP_METHOD = "/v1/users/{user_id}/methods (setup)"
N_SETUP_APP_PASSWORD = "/v1/users/{user_id}/app-passwords (setup)"
N_SETUP_POOL = "/v1/users/sync (pool, before the clock)"
N_SETUP_APPS = "/v1/users/sync (totp and app-password users, before the clock)"
N_SETUP_APP_PASSWORDS = "/v1/users/{user_id}/app-passwords (before the clock)"

#: Custom statistics: one LOGIN row per flow, ARRIVAL rows for the open workload, SETUP rows
#: for the enrolment requests users make before their first login (kept out of Locust's own
#: request table, so its totals and the plain thresholds measure the logins only).
LOGIN = "LOGIN"
ARRIVAL = "ARRIVAL"
SETUP = "SETUP"
