"""The gateway on Ray Serve: one application (``octet-gateway``) whose replicas each build the
FastAPI app (``serve.app.build_app``) in their own process, behind Serve's HTTP proxy at
``gateway.host:gateway.port`` (loopback by default)."""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

from cluster.config.settings import Settings

APP_NAME = "octet-gateway"


class GatewayError(RuntimeError):
    """The gateway could not be started (one line for the operator)."""


def application(settings: Settings) -> Any:
    """The Serve application of the gateway (replicas and their concurrency from ``gateway``)."""
    from ray import serve

    from serve.app import build_app, load_site

    cfg = settings.gateway

    @serve.ingress()
    class Gateway:
        def __init__(self, settings: Settings, site: Any) -> None:
            self.settings = settings
            self.site = site

        def __serve_build_asgi_app__(self) -> Any:
            # Serve freezes a replica's heap once it is built (RAY_SERVE_FREEZE_GC_ON_STARTUP, on by default)
            return build_app(self.settings, site=self.site)

    deployment: Any = serve.deployment(name="gateway", num_replicas=cfg.replicas,
                                       max_ongoing_requests=cfg.max_ongoing_requests,
                                       ray_actor_options={"num_cpus": 0})(Gateway)
    # the dashboard's build is read here, on the host that deploys, and handed to every replica in
    # memory (a replica on another node needs no copy of it)
    return deployment.bind(settings, load_site(settings))


def check_proxy(settings: Settings) -> None:
    """``GatewayError`` when the ingress ``gateway.proxy`` names cannot run here."""
    if settings.gateway.proxy == "haproxy" and not haproxy_binary():
        raise GatewayError("gateway.proxy is haproxy but haproxy is not installed: apt-get install haproxy "
                           "(`make desk` does, as root), or set gateway.proxy: python")


def check_port(host: str, port: int) -> None:
    """``GatewayError`` when something listens on ``host:port`` already. Serve's proxy (and HAProxy)
    bind with ``SO_REUSEPORT``, so a second gateway would share the port with the first and the
    kernel would split the requests between them: each would refuse the other's keys."""
    if port_in_use(host, port):
        raise GatewayError(f"{host}:{port} is in use: stop what listens there, or choose another port "
                           "(--port, gateway.port)")


def port_in_use(host: str, port: int) -> bool:
    """Whether something holds ``host:port`` (a bind there fails as in use); ``GatewayError`` when this host cannot
    listen there for another reason (no such address, a name that does not resolve)."""
    import errno
    import socket

    try:
        family, _, _, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        raise GatewayError(f"gateway.host {host!r}: {exc.strerror or exc}") from None
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT is no owner
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise GatewayError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    return False


def haproxy_binary() -> str | None:
    """Where haproxy is (PATH, then the sbin directories a user's PATH may not hold), or None."""
    return shutil.which("haproxy", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"]))


_stopping_at_exit = False
_running = False  # this process started the gateway and has not stopped it


def _stop_at_exit() -> None:
    """A process that started the gateway ends its sessions as it exits (the desk's driver has no
    other moment), recorded, before Ray goes (Ray's own exit hook runs after this one, and takes
    Serve down with it)."""
    global _stopping_at_exit
    if not _stopping_at_exit:
        import atexit

        atexit.register(stop, serve_too=False)
        _stopping_at_exit = True


def start(settings: Settings, timeout_s: float = 120.0) -> str:
    """Start Serve's proxy on ``gateway.host:port`` and the gateway behind it, on the Ray this
    process is attached to; returns the API's base URL once it answers."""
    import urllib.request

    from ray import serve

    from serve.sessions import start_host

    global _running
    cfg = settings.gateway
    check_proxy(settings)
    check_port(cfg.host, cfg.port)
    try:
        _running = True
        start_host(settings)  # backtests and replays asked for through the API: owned by this process
        _stop_at_exit()
        serve.start(http_options={"host": cfg.host, "port": cfg.port}, detached=False)
        serve.run(application(settings), name=APP_NAME, route_prefix="/", blocking=False)
    except Exception as exc:  # Serve reports a port in use, a bad option, a replica that failed to start
        raise GatewayError(f"the gateway did not start on {cfg.host}:{cfg.port}: "
                           f"{(str(exc).strip().splitlines() or [type(exc).__name__])[-1]}") from None
    host = "127.0.0.1" if cfg.host in ("0.0.0.0", "::") else cfg.host
    base = f"http://{host}:{cfg.port}"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2) as r:  # noqa: S310 (our own URL)
                if r.status == 200:
                    return base
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise GatewayError(f"the gateway did not answer at {base} within {timeout_s:.0f} s")
        time.sleep(0.2)


def stop(wait_s: float = 20.0, serve_too: bool = True) -> None:
    """Stop the gateway: the sessions started through it first (each ends after its batch under way,
    recorded as stopped by the gateway; up to ``wait_s`` seconds), then (``serve_too``) Serve."""
    import ray
    from ray import serve

    from serve.sessions import drop_host, host

    global _running
    if not _running or not ray.is_initialized():  # stopped already, or Ray is gone (and serve.shutdown would start one to look)
        drop_host()
        return
    _running = False
    try:
        h = host()
        if h is not None:
            try:
                ray.get(h.stop_all.remote("gateway", "the gateway stopped", wait_s), timeout=wait_s + 10)
            except Exception:  # noqa: S110 (a host that is gone or stuck: killed below)
                pass
        if serve_too:
            serve.shutdown()  # type: ignore[no-untyped-call]
        if h is not None:
            ray.kill(h)  # a session still under way ends with it (its run stays in the store as it was)
    except Exception:  # noqa: S110 (Ray already gone: nothing to stop)
        pass
    drop_host()
