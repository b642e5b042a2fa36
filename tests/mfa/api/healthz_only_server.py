"""A stand-in server for ``test_cluster_entry``: the smallest process that keeps the
``ServerEntry`` contract (``--host/--port/--workers``, ``MFALAB_*`` in the environment,
``GET /healthz`` answering with its name), so the test shows the cluster starts what its
caller declares and nothing it names itself."""

from __future__ import annotations

import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(
            {"status": "ok", "server": os.environ["MFALAB_SERVER_NAME"], "stand_in": True}
        ).encode()
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the cluster keeps this process's output as its log."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args()
    ThreadingHTTPServer((args.host, args.port), _Healthz).serve_forever()


if __name__ == "__main__":
    main()
