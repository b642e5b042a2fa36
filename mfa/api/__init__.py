"""The reference engine served over HTTP (FastAPI), alone or as a cluster behind nginx.

``create_app`` builds one server; ``Cluster`` starts N named uvicorn servers sharing one
database (and optionally nginx in front). See docs/api.md.
"""

from mfa.api.app import create_app
from mfa.api.cluster import Cluster, ClusterError, ClusterSpec, ServerEntry

__all__ = ["Cluster", "ClusterError", "ClusterSpec", "ServerEntry", "create_app"]
