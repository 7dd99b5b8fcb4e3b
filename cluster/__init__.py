"""Octet's runtime: settings, the session driver, Ray topology, rust_exec, Kafka, storage, CLI."""

import os

# Ray reads its authentication mode when it is imported, so it is set here, before any module of
# this package imports Ray: token authentication is on unless the operator sets RAY_AUTH_MODE.
os.environ.setdefault("RAY_AUTH_MODE", "token")
