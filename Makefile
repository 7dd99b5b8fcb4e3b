# Octet: `make demo` runs a paper session on embedded defaults; `make test` runs every test.
# Both do all set-up on a fresh machine (a uv-managed .venv from uv.lock) and nothing the second time.

SHELL := /bin/bash
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
SYNCED := $(VENV)/.synced
PROTO := proto/octet/exec/v1/exec.proto
PB := cluster/adapters/rust_exec/pb
STUBS := $(PB)/exec_pb2_grpc.py
EXEC_BIN := rust_exec/target/release/octet-exec
CARGO ?= $(shell command -v cargo || echo $(HOME)/.cargo/bin/cargo)
PYTHON_FOR_UV := $(shell command -v python3.11 || command -v python3)

export UV_PYTHON := $(PYTHON_FOR_UV)
export UV_PYTHON_DOWNLOADS := never
export RAY_USAGE_STATS_ENABLED := 0
export RAY_AUTH_MODE := token
export CREWAI_DISABLE_TELEMETRY := true
export OTEL_SDK_DISABLED := true
export CREWAI_DISABLE_VERSION_CHECK := true
export CREWAI_TRACING_ENABLED := false

.PHONY: stubs stubs-check setup services-deps haproxy-deps browser-deps dashboard browse demo desk desk-stop bench-live test test-unit test-rust bench bench-year bench-kafka bench-wyckoff bench-gateway bench-dashboard lint clean exec-bin

# Python environment, gRPC stubs generated from proto/, and the rust_exec binary (release).
setup: $(SYNCED) $(STUBS) exec-bin

# The Python side of the contract, generated into the package (and committed, so that a Ray worker
# gets it with the code through working_dir). `make lint` fails when it differs from proto/.
$(STUBS): $(PROTO) $(SYNCED)
	@$(MAKE) --no-print-directory stubs STUBS_OUT=$(PB)

STUBS_OUT ?= $(PB)
stubs:
	@tmp=$$(mktemp -d) && $(VENV)/bin/python -m grpc_tools.protoc -I proto --python_out=$$tmp --pyi_out=$$tmp \
	  --grpc_python_out=$$tmp $(PROTO) && mkdir -p $(STUBS_OUT) && \
	  for f in exec_pb2.py exec_pb2.pyi exec_pb2_grpc.py; do \
	    sed 's/^from octet\.exec\.v1 import/from cluster.adapters.rust_exec.pb import/' $$tmp/octet/exec/v1/$$f > $(STUBS_OUT)/$$f; \
	  done && rm -rf $$tmp && touch $(STUBS_OUT)/exec_pb2_grpc.py

# $(MAKE) by another name: a recipe line naming $(MAKE) runs even under make -n, where the stubs it asks for are not made
SUBMAKE = $(MAKE)
stubs-check: $(SYNCED)
	@tmp=$$(mktemp -d) && $(SUBMAKE) --no-print-directory stubs STUBS_OUT=$$tmp && \
	  for f in exec_pb2.py exec_pb2.pyi exec_pb2_grpc.py; do \
	    cmp -s $$tmp/$$f $(PB)/$$f || { echo "$(PB)/$$f differs from $(PROTO): run make stubs and commit" >&2; rm -rf $$tmp; exit 1; }; \
	  done; rm -rf $$tmp
# cargo decides what to rebuild; when nothing changed this takes a fraction of a second. The workspace
# also builds rust_exec/py, the same service as a Python module for the backtest (in-process, no
# socket), put beside its Python side (replaced by a rename: a running process keeps its copy).
NATIVE := cluster/adapters/rust_exec/octet_exec_native.abi3.so
export PYO3_PYTHON := $(abspath $(VENV))/bin/python
exec-bin: $(SYNCED)
	cd rust_exec && $(CARGO) build --release --locked --quiet --workspace
	@cmp -s rust_exec/target/release/liboctet_exec_native.so $(NATIVE) || \
	  { cp rust_exec/target/release/liboctet_exec_native.so $(NATIVE).tmp && mv $(NATIVE).tmp $(NATIVE); }

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --compile-bytecode: the packages' bytecode is written once here, so that no process (a command, a Ray
# worker, a test) compiles them again where Python may not write it (PYTHONDONTWRITEBYTECODE; ~4 s a command)
$(SYNCED): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode
	@touch $(SYNCED)

# HAProxy, the API gateway's ingress (gateway.proxy: haproxy; Ray Serve starts it), from Debian's
# package as root when missing (its service is not started: Serve runs its own, on loopback).
haproxy-deps:
	@PATH="$$PATH:/usr/sbin" command -v haproxy >/dev/null || { if [ "$$(id -u)" = 0 ]; then export DEBIAN_FRONTEND=noninteractive; \
	  echo "installing haproxy (Debian package)"; \
	  apt-get install -y -q --no-install-recommends haproxy >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends haproxy >/dev/null); \
	  else echo "haproxy is not installed (apt-get install haproxy), needed by gateway.proxy: haproxy" >&2; exit 1; fi; }

# The servers the tests start by themselves: PostgreSQL and Redis from Debian's packages (as root,
# as on CI, installed when missing; otherwise a missing one is named) and the Kafka broker's jars
# (Maven, Java 17). Nothing is started here.
PG_BIN := $(firstword $(wildcard /usr/lib/postgresql/*/bin/postgres))
services-deps:
	@if [ -z "$(PG_BIN)" ] || ! command -v redis-server >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing postgresql and redis-server (Debian packages)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    (apt-get install -y -q --no-install-recommends postgresql redis-server >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends postgresql redis-server >/dev/null)) \
	    && echo "installed: $$(ls -d /usr/lib/postgresql/*/bin/postgres) $$(command -v redis-server)"; \
	  else echo "PostgreSQL and Redis servers are needed for the storage tests: apt-get install postgresql redis-server" >&2; exit 1; fi; \
	fi
	@cluster/devservers/kafka/kafka.sh fetch  # the Kafka broker's jars from Maven Central (cached in ~/.m2 and lib/)

# The dashboard (dashboard/): Next.js, built to a static export (dashboard/out) that the gateway
# serves under /. npm ci from the committed lockfile when it changed; a build when a source changed.
# The API's page (/docs) runs Swagger UI from the build's swagger/ folder, copied from the pinned
# swagger-ui-dist: the same origin, nothing fetched from the internet (its telemetry is off in package.json).
DASH := dashboard
DASH_SRC := $(shell find $(DASH)/app $(DASH)/components $(DASH)/lib -type f 2>/dev/null) \
	$(DASH)/next.config.ts $(DASH)/tsconfig.json $(DASH)/package.json
DASH_MODULES := $(DASH)/node_modules/.installed
DASH_BUILT := $(DASH)/out/index.html
export NEXT_TELEMETRY_DISABLED := 1

dashboard: $(DASH_BUILT)

$(DASH_MODULES): $(DASH)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to build the dashboard (Node.js 20: apt-get install nodejs npm)" >&2; exit 1; }
	cd $(DASH) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(DASH_BUILT): $(DASH_MODULES) $(DASH_SRC)
	cd $(DASH) && npx --no-install next build > .next-build.log 2>&1 || { cat .next-build.log >&2; exit 1; }
	mkdir -p $(DASH)/out/swagger && cd $(DASH)/node_modules/swagger-ui-dist && \
	  cp swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE NOTICE ../../out/swagger/
	@touch $@

# Debian's Chromium, which the browser tests drive with Playwright (no browser download), as root
# when missing.
browser-deps:
	@test -x /usr/bin/chromium || { if [ "$$(id -u)" = 0 ]; then export DEBIAN_FRONTEND=noninteractive; \
	  echo "installing chromium (Debian package)"; \
	  apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null); \
	  else echo "Chromium is needed for the browser tests: apt-get install chromium" >&2; exit 1; fi; }

demo: setup dashboard
	$(VENV)/bin/octet demo

# The API and the dashboard over the demo's records (and a desk's, while one runs): it prints the
# address to open, which logs in with a viewer key made for it alone (revoked when it stops).
# CONFIG=path serves the records of a run made with that configuration file: taken from make's command line
# only (not the environment), literally, and read by the shell from the recipe's environment unparsed, so
# any character in the path is safe.
ifeq ($(origin CONFIG),command line)
override CONFIG := $(value CONFIG)
export CONFIG
else
unexport CONFIG
endif
browse: setup dashboard haproxy-deps
	$(VENV)/bin/octet serve $${CONFIG:+--config "$$CONFIG"} --login viewer

# A desk that runs until stopped (embedded defaults, the replay paced at real time): `octet desk
# status` watches it, `make desk-stop` (or `octet desk stop`) stops it; started again, it resumes.
desk: setup haproxy-deps
	$(VENV)/bin/octet desk start

desk-stop: setup
	$(VENV)/bin/octet desk stop

test: setup services-deps haproxy-deps browser-deps dashboard test-rust
	$(VENV)/bin/python -m pytest -q --durations=25

test-rust:
	cd rust_exec && $(CARGO) test --release --locked --quiet

test-unit: setup
	$(VENV)/bin/python -m pytest -q -m "not ray and not browser"

bench: setup
	$(VENV)/bin/python bench/pipeline.py
	$(VENV)/bin/python bench/exec_restart.py
	$(VENV)/bin/python bench/exec_latency.py
	$(VENV)/bin/python bench/storage.py
	$(VENV)/bin/python bench/audit_anchors.py
	$(VENV)/bin/python bench/ray_hops.py
	$(VENV)/bin/python bench/startup.py

# The live desk at a peak rate (tick-to-order, saga vs a bare Ray chain, start and stop) and a
# simulated month through it (every actor's memory at the end against the 10% mark)
bench-live: setup
	$(VENV)/bin/python bench/live.py
	$(VENV)/bin/python bench/soak.py

# Wyckoff detection: precision/recall on 500 labelled scenarios; batch bars/s on 10M bars, incremental p99
bench-wyckoff: setup
	$(VENV)/bin/python bench/wyckoff_accuracy.py
	$(VENV)/bin/python bench/wyckoff_speed.py
	$(VENV)/bin/python bench/wyckoff_agreement.py
	$(VENV)/bin/python bench/wyckoff_rangefirst.py --held-out
	$(VENV)/bin/python bench/wyckoff_phase_ceiling.py
	$(VENV)/bin/python bench/wyckoff_false_c.py

# ticks/s broker -> ingress -> analysis with 1 and 2 ingress actors, tick-to-order over Kafka
# The API gateway through Ray Serve and under plain uvicorn, loaded by wrk (installed here when missing)
bench-gateway: setup haproxy-deps
	@command -v wrk >/dev/null || { if [ "$$(id -u)" = 0 ]; then export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends wrk >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends wrk >/dev/null); \
	  else echo "wrk is not installed (apt-get install wrk): the load comes from httpx instead" >&2; fi; }
	$(VENV)/bin/python bench/gateway.py

# The dashboard in Chromium over a store of 5 accounts, 10,000 orders and 50,000 bars
bench-dashboard: setup dashboard browser-deps
	$(VENV)/bin/python bench/dashboard.py

bench-kafka: setup services-deps
	$(VENV)/bin/python bench/ingress.py

# a year of the desk over every firm preset (about 10 minutes on 2 cores)
bench-year: setup
	$(VENV)/bin/python bench/compliance_year.py

# ruff; the direction of imports (pyproject's [tool.importlinter] contracts); the gRPC stubs in the
# package match proto/; clippy; mypy --strict on trading/, actors/ and cluster/; the dashboard's types (tsc).
lint: setup $(DASH_MODULES)
	$(VENV)/bin/ruff check trading actors cluster serve tests bench
	cd $(DASH) && npx --no-install tsc --noEmit
	$(VENV)/bin/lint-imports
	@$(MAKE) --no-print-directory stubs-check
	cd rust_exec && $(CARGO) clippy --release --locked --quiet --workspace -- -D warnings
	$(VENV)/bin/mypy

clean:
	rm -rf var .pytest_cache $(DASH)/out $(DASH)/.next
