"""The topology: which actors exist, how many, their names and restart policy, in one place."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from actors.analysis import MarketAnalysisAgent
from actors.breaker import CircuitBreakerAgent
from actors.compliance import ComplianceAgent
from actors.correlation import CorrelationAgent
from actors.execution import AccountSpec, ExecutionAgent
from actors.ingress import IngressAgent
from actors.learning import LearningAgent
from actors.performance import PerformanceAgent
from actors.risk import AdaptiveRiskAgent
from actors.shell import MANY, AgentShell
from actors.style import ExecutionStyleAgent
from cluster.adapters.kafka.ingress import KafkaIngressAgent
from cluster.adapters.rust_exec.client import GrpcExecutionClient
from cluster.config.secrets import ExecCredentials, KafkaAccess, ray_token_file
from cluster.config.settings import Settings
from cluster.desk import runtime as rt

RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DEDUP_LOGS": "0"}


HAPROXY_WRAPPER = Path(__file__).resolve().parents[2] / "serve" / "haproxy.sh"
SERVE_ENV_OWNER = "OCTET_SERVE_ENV_PID"  # the process that set the HAProxy variables below
HAPROXY_KEYS = ("RAY_SERVE_ENABLE_HA_PROXY", "RAY_SERVE_THROUGHPUT_OPTIMIZED", "RAY_SERVE_HAPROXY_BINARY_PATH",
                "RAY_SERVE_HAPROXY_SOCKET_PATH", "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC",
                "RAY_SERVE_HAPROXY_SERVER_STATE_BASE", "RAY_SERVE_HAPROXY_SERVER_STATE_FILE",
                "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH", "RAY_SERVE_HAPROXY_STATS_PORT",
                "RAY_SERVE_HAPROXY_METRICS_PORT", "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT",
                "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S")
_haproxy_dir: str | None = None
_haproxy_env: dict[str, str] | None = None


def haproxy_dir() -> str:
    """A private directory (0700, made once per process, removed at exit) for Ray's HAProxy files:
    its admin socket (which Ray makes mode 666, an open door in the shared ``/tmp/haproxy-serve``
    it uses by default), configuration, server state and metrics socket. Short, as the admin
    socket's path under it (plus Ray's 56-character node id) must fit the 97 bytes HAProxy takes.
    Named with this process's id: a directory left by one killed outright is removed by the next."""
    global _haproxy_dir
    if _haproxy_dir is None:
        import atexit
        import shutil
        import tempfile

        from cluster.desk.desk import pid_alive

        root = Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())
        for old in root.glob("ohap*-*"):  # left by a process killed outright (its pid in the name)
            pid = old.name[4:].split("-")[0]
            try:
                if pid.isdigit() and old.lstat().st_uid == os.getuid() and old.is_dir() and not pid_alive(int(pid)):
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                continue
        _haproxy_dir = tempfile.mkdtemp(prefix=f"ohap{os.getpid()}-", dir=root)
        # HAProxy takes Unix socket paths of 97 bytes at most: <dir>/<Ray's 56-character node id>/metrics.sock
        if len(_haproxy_dir) + 1 + 56 + len("/metrics.sock") > 97:
            raise RuntimeError(f"{_haproxy_dir}: too long a path for HAProxy's sockets (gateway.proxy: python "
                               "avoids HAProxy)")
        atexit.register(shutil.rmtree, _haproxy_dir, True)
    return _haproxy_dir



def serve_env(settings: Settings) -> dict[str, str]:
    """Ray Serve's ingress as ``gateway.proxy`` asks, for a Ray started here (read when Serve starts).

    With ``haproxy``: HAProxy in front of the replicas and Serve's throughput-optimised data plane,
    kept as closed as the Python proxy. HAProxy runs through ``serve/haproxy.sh``, which rebinds
    the stats page and metrics exporter Ray's template puts on every interface to loopback; its
    admin socket and files go to a private directory (``haproxy_dir``); the replicas' own HTTP
    servers listen on ``gateway.host`` (Serve binds them there). What is left on other interfaces
    is Ray's own gRPC, which refuses a call without the cluster's token (docs/api.md)."""
    if settings.gateway.proxy != "haproxy":
        return {}
    global _haproxy_env
    if _haproxy_env is None:
        d = haproxy_dir()
        stats, metrics, fallback = _free_ports(3)
        _haproxy_env = {
            "RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
            "RAY_SERVE_HAPROXY_BINARY_PATH": str(HAPROXY_WRAPPER),
            "RAY_SERVE_HAPROXY_SOCKET_PATH": f"{d}/admin.sock",
            "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": f"{d}/haproxy.cfg",
            "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": d,
            "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": f"{d}/server-state",
            "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": f"{d}/metrics.sock",
            # loopback ports of this Ray's own (Ray's fixed 8404, 9101 and 8500 would keep a second
            # desk on the host from starting its gateway)
            "RAY_SERVE_HAPROXY_STATS_PORT": str(stats), "RAY_SERVE_HAPROXY_METRICS_PORT": str(metrics),
            "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": str(fallback),
            # a replica being stopped drains this long (Ray's 30 s default is for load balancers on
            # other hosts; HAProxy here is told by Serve at once): each stop of the gateway waited it out
            "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2"}
    return dict(_haproxy_env)


def _free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports free now (held together while chosen, so none repeats)."""
    held = [socket.socket() for _ in range(n)]
    try:
        for sock in held:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in held]
    finally:
        for sock in held:
            sock.close()


class AgentRef:
    """A handle on one hosted agent that numbers its mutating calls in order, one in flight at a time.

    Ray may retry two in-flight calls to one actor out of order after a restart, and the shell
    refuses a call older than one it applied (``StaleCall``). So ``call`` waits until the agent's
    previous sequenced call is done before it sends the next: the order the desk sends is the order
    the agent applies, across any restart. (Unsequenced ``query`` calls are not held.)"""

    def __init__(self, name: str, handle: Any) -> None:
        self.name = name
        self.handle = handle
        self.seq = 0
        self.kept: int | None = None  # with a checkpoint: the agent keeps every result after this sequence
        self.inflight: Any = None  # the previous sequenced call's reference, until it is done

    def call(self, method: str, *args: Any) -> Any:
        if self.inflight is not None:
            rt.wait([self.inflight], num_returns=1, fetch_local=False)
        self.seq += 1
        if self.kept is None:
            self.inflight = self.handle.call.remote(self.seq, method, *args)
        else:
            self.inflight = self.handle.call.remote(self.seq, method, *args, keep_from=self.kept)
        return self.inflight

    def mark(self) -> int:
        """A checkpoint: from now on the agent keeps the results of the calls after this one (what
        a desk resumed from this checkpoint replays). Returns the sequence to resume from."""
        self.kept = self.seq
        return self.seq

    def call_many(self, calls: list[tuple[str, tuple[Any, ...]]]) -> Any:
        """Several calls applied in order as one sequenced call (one save): a list of their results."""
        return self.call(MANY, calls)

    def query(self, method: str, *args: Any) -> Any:
        return rt.get(self.handle.query.remote(method, *args))

    def info(self) -> dict[str, Any]:
        return rt.get(self.handle.info.remote())  # type: ignore[no-any-return]


@dataclass
class Topology:
    ingress: list[AgentRef]
    analysis: list[tuple[list[str], AgentRef]]
    agents: dict[str, AgentRef]  # risk, correlation, style, compliance, breaker, performance, learning, execution

    def all(self) -> list[AgentRef]:
        return [*self.ingress, *(a for _, a in self.analysis), *self.agents.values()]

    @property
    def in_process(self) -> bool:
        return any(isinstance(ref.handle, rt.LocalHandle) for ref in self.all())

    def restart(self, names: Iterable[str]) -> list[str]:
        """Kill these agents' actors wherever they run, and Ray starts each again from its saved
        state (the agent tier of the circuit breaker). Ray's own kill reaches an actor on any node; a
        process id from a heartbeat means something only on the host that sent it. Returns the names
        it restarted."""
        if self.in_process:  # an agent in this process is not restarted: its failure fails the run
            return []
        by_name = {ref.name: ref for ref in self.all()}
        done = []
        for name in names:
            if name in by_name:
                import ray

                ray.kill(by_name[name].handle, no_restart=False)
                done.append(name)
        return done

    def shutdown(self) -> None:
        if self.in_process:
            return
        import ray

        for ref in self.all():
            ray.kill(ref.handle, no_restart=True)


class RayUnavailable(RuntimeError):
    """No Ray answers at ``runtime.ray_address`` (or it refused this desk's token)."""


def ray_token(settings: Settings) -> None:
    """Point Ray at its token, unless the operator already did (``RAY_AUTH_TOKEN``/``_PATH``): a Ray
    this desk starts takes ``data_dir/secrets/ray.token`` (made on first use, 0600; Ray's own default
    file would be world-readable); a Ray it attaches to, that same file when it exists (a Ray started
    by ``octet ray start`` under the same data_dir), else Ray's own lookup."""
    if (os.environ.get("RAY_AUTH_MODE") != "token" or os.environ.get("RAY_AUTH_TOKEN")
            or os.environ.get("RAY_AUTH_TOKEN_PATH")):
        return
    data_dir = Path(settings.runtime.data_dir)
    if not settings.runtime.ray_address or (data_dir / "secrets" / "ray.token").exists():
        # absolute: a process started from elsewhere (a child in another directory) inherits it
        os.environ["RAY_AUTH_TOKEN_PATH"] = str(Path(ray_token_file(data_dir)).absolute())


def ray_gcs_address(address: str) -> str:
    """``host:port`` of the Ray at ``address`` ('auto': the latest Ray started on this host), after
    a TCP connect to it, so that an address nothing listens on is one clear error, not Ray's retries."""
    from ray._private.services import canonicalize_bootstrap_address

    try:
        gcs = canonicalize_bootstrap_address(address)
    except (ConnectionError, ValueError) as exc:
        raise RayUnavailable(f"runtime.ray_address {address}: {str(exc).strip().splitlines()[0]}") from None
    if gcs is None:
        raise RayUnavailable(f"runtime.ray_address {address}: no running Ray found on this host "
                             "(start one with `octet ray start`)")
    host, _, port = gcs.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=ATTACH_TIMEOUT_S).close()
    except (OSError, ValueError) as exc:
        raise RayUnavailable(f"runtime.ray_address {address}: nothing answers at {gcs} ({exc})") from None
    return gcs


ATTACH_TIMEOUT_S = 5.0


def init_ray(settings: Settings) -> None:
    """Attach to the Ray at ``runtime.ray_address`` ('auto' or ``host:port``) or start a local Ray
    without the dashboard.

    Ray's token authentication is on (``cluster/__init__.py``); ``ray_token`` says where the token
    comes from. A Ray this process starts is its child, so its workers inherit this environment and
    need no runtime environment (which would cost each worker a call to Ray's runtime-env agent); a
    Ray it attaches to gets the environment and this source tree (``working_dir``) per job. An
    address nothing answers at, or a Ray that refuses the token, is ``RayUnavailable``."""
    import ray

    if ray.is_initialized():
        return
    ingress = serve_env(settings)
    if os.environ.get(SERVE_ENV_OWNER, str(os.getpid())) != str(os.getpid()):
        # set by the Octet process that started this one (its HAProxy directory and ports), not by
        # the operator: this process's own, or none with the Python proxy
        for key in HAPROXY_KEYS:
            os.environ.pop(key, None)
    for key, value in {**RAY_ENV, **ingress}.items():
        os.environ.setdefault(key, value)
    if ingress:
        os.environ[SERVE_ENV_OWNER] = str(os.getpid())
    from ray.exceptions import AuthenticationError

    ray_token(settings)
    address = settings.runtime.ray_address
    if not address:
        # "local": a Ray of its own even when another was started on this host (``ray start`` leaves
        # its address where a plain ray.init() would connect to it, with options it refuses)
        try:
            ray.init(address="local", include_dashboard=False, log_to_driver=False,
                     num_cpus=max(2, os.cpu_count() or 2), configure_logging=False)
        except AuthenticationError as exc:  # e.g. a RAY_AUTH_TOKEN_PATH naming no readable file
            raise RayUnavailable(f"Ray's token: {' '.join(str(exc).split()).split('. ')[0]}") from None
        return

    gcs = ray_gcs_address(address)
    root = Path(__file__).resolve().parents[2]
    env = {**RAY_ENV, **serve_env(settings), "CREWAI_DISABLE_TELEMETRY": "true", "OTEL_SDK_DISABLED": "true"}
    try:
        ray.init(address=gcs, runtime_env={"env_vars": env, "working_dir": str(root)}, log_to_driver=False,
                 configure_logging=False)
    except (AuthenticationError, ConnectionError) as exc:
        raise RayUnavailable(f"runtime.ray_address {address} ({gcs}): {str(exc).strip().splitlines()[0]}") from None


@dataclass(frozen=True)
class KafkaSource:
    """Where the ingress actors read ``md.ticks`` for a run over Kafka."""

    access: KafkaAccess
    group: str
    partitions: int
    start_offsets: dict[int, int]


def build(settings: Settings, state_dir: Path | str, name_prefix: str, exec_address: str, run_id: str = "",
          kafka: KafkaSource | None = None, exec_credentials: ExecCredentials | None = None,
          state_key: bytes = b"", in_process: bool = False) -> Topology:
    """Start every actor of the desk; the execution agent talks to rust_exec at ``exec_address``.
    Agents save their state under ``state_dir`` (a directory, or a database URL shared by all).
    Actors take no CPU reservation: they idle between batches. ``in_process``: the same agents in
    the same shells, in this process, saving nothing (the backtest: no Ray, no restart)."""
    registry = settings.registry()
    shells: list[Any] = []  # Ray's actor class of the shell, made on the first actor (Ray loaded then only)
    restarts = settings.agents.actor_max_restarts
    state = str(state_dir)

    def start(name: str, factory: Any, *args: Any) -> AgentRef:
        if in_process:
            return AgentRef(name, rt.LocalHandle(AgentShell(name, state, factory, *args, run_id=run_id, key=state_key,
                                                            persist=False)))
        if not shells:
            import ray

            shells.append(ray.remote(AgentShell))
        handle = shells[0].options(name=f"{name_prefix}.{name}", num_cpus=0, max_restarts=restarts,
                               max_task_retries=-1 if restarts else 0).remote(name, state, factory, *args,
                                                                               run_id=run_id, key=state_key)
        return AgentRef(name, handle)

    n_ingress = settings.runtime.ingress_actors
    if kafka is None:
        ingress = [start(f"ingress-{i}", IngressAgent, registry, settings.session.bar_seconds)
                   for i in range(n_ingress)]
    else:  # partition p is read by actor p % n, all in the run's consumer group
        k = settings.kafka
        ingress = [start(f"ingress-{i}", KafkaIngressAgent, registry, settings.session.bar_seconds, kafka.access,
                         kafka.group, [p for p in range(kafka.partitions) if p % n_ingress == i], kafka.partitions,
                         kafka.start_offsets, k.max_buffered_batches, k.poll_timeout_seconds)
                   for i in range(n_ingress)]
    shards = min(settings.runtime.analysis_shards, len(registry))
    groups = [registry.symbols[i::shards] for i in range(shards)]
    chosen = {s: settings.strategy.of(s) for s in registry.symbols}
    analysis = [(g, start(f"analysis-{i}", MarketAnalysisAgent, registry, g, settings.wyckoff_params(),
                          {s: chosen[s] for s in g}, settings.strategy.sma_cross.to_domain()))
                for i, g in enumerate(groups)]
    accounts = settings.accounts
    rules = {a.id: settings.firm_rules(a) for a in accounts}
    b = settings.agents.breaker
    closures = str(c) if (c := settings.agents.compliance.market_closures) else None  # holidays, announced breaks
    agents = {
        "risk": start("risk", AdaptiveRiskAgent, registry, {a.id: a.risk.to_domain() for a in accounts},
                      {a.id: settings.worst_slip_pips(a) for a in accounts}),
        "correlation": start("correlation", CorrelationAgent, registry, {a.id: a.owner for a in accounts},
                             settings.exposure_limits(), settings.agents.correlation.window_bars),
        "style": start("style", ExecutionStyleAgent, registry, {a.id: settings.profile(a) for a in accounts}),
        "compliance": start("compliance", ComplianceAgent, registry, rules,
                            {a.id: settings.cost_allowance(a) for a in accounts}, {a.id: a.owner for a in accounts},
                            str(news) if (news := settings.agents.compliance.news_calendar) else None,
                            settings.agents.compliance.pass_odds.to_domain(),
                            {a.id: float(a.risk.risk_per_trade_pct) for a in accounts},
                            str(prior) if (prior := settings.agents.compliance.pass_odds.prior_trades) else None,
                            settings.agents.compliance.consistency_guard,
                            settings.agents.compliance.news_calendar_tz,
                            {a.id: (a.balance, a.currency) for a in accounts},
                            closures,
                            {a.id: int(a.last_trade.timestamp()) * 1_000_000_000 for a in accounts if a.last_trade}),
        "breaker": start("breaker", CircuitBreakerAgent, rules, registry.symbols, b.to_domain(), closures),
        "performance": start("performance", PerformanceAgent, {a.id: a.balance for a in accounts}),
        "learning": start("learning", LearningAgent),
        "execution": start("execution", ExecutionAgent, registry,
                           partial(GrpcExecutionClient, exec_address, registry, credentials=exec_credentials,
                                   reconnect_for=settings.execution.reconnect_seconds),
                           [AccountSpec(a.id, a.currency, a.balance, a.commission_per_lot,
                                        rules[a.id].holding.min_hold_seconds) for a in accounts]),
    }
    return Topology(ingress, analysis, agents)
