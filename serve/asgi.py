"""The gateway's app for a plain ASGI server (``uvicorn --factory serve.asgi:app``): the settings
file is ``OCTET_CONFIG`` (default ``octet.yaml``), with ``OCTET_*`` overrides. Serve is the way it
runs with the desk (``serve.deploy``); this is for comparison and for hosts without Ray."""

from __future__ import annotations

import os
from typing import Any


def app() -> Any:
    from cluster.config.settings import load_settings
    from serve.app import build_app, freeze_heap

    settings = load_settings(os.environ.get("OCTET_CONFIG", "octet.yaml"))
    built = build_app(settings)
    freeze_heap(settings)
    return built
