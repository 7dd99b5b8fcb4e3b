#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft: broker and controller in one process), on 127.0.0.1,
# without root. The one script that fetches, starts, checks and stops it; tests and `octet` use it.
# Every connection authenticates: clients with SASL/SCRAM-SHA-256 as user "octet", the controller
# listener with SASL/PLAIN; the password is made on first start into DIR/password (0600), and
# DIR/server.properties, which holds it too, is 0600.
#
#   kafka.sh fetch                 gather the broker's jars from Maven Central into ./lib (cached)
#   kafka.sh start DIR [PORT]      format DIR on first use, start, wait until it accepts connections
#   kafka.sh status DIR            exit 0 and print the address if it runs
#   kafka.sh stop DIR              stop it (SIGTERM, then SIGKILL after 30 s)
#   kafka.sh kill DIR              SIGKILL (a crash, for tests)
#
# Environment: KAFKA_HEAP (default -Xmx512m -Xms128m), JAVA (default: java on PATH, Java 17+).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIB="$HERE/lib"
JAVA="${JAVA:-java}"
HEAP="${KAFKA_HEAP:--Xmx512m -Xms128m}"

die() { echo "kafka.sh: $*" >&2; exit 1; }

fetch() {
  if [ -f "$LIB/.complete" ] && [ "$LIB/.complete" -nt "$HERE/pom.xml" ]; then return 0; fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch the broker's jars"
  rm -rf "$LIB"
  mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -DoutputDirectory="$LIB" >&2 \
    || die "fetching the broker's jars from Maven Central failed"
  touch "$LIB/.complete"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_of() {
  local dir="$1"
  [ -f "$dir/kafka.pid" ] || return 1
  local pid; pid="$(cat "$dir/kafka.pid")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

start() {
  umask 077
  local dir="${1:?usage: kafka.sh start DIR [PORT]}"; mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"; chmod 700 "$dir"
  if pid_of "$dir" >/dev/null; then echo "127.0.0.1:$(cat "$dir/port")"; return 0; fi
  fetch
  local port="${2:-}"; [ -n "$port" ] || port="$( [ -f "$dir/port" ] && cat "$dir/port" || free_port)"
  local cport; cport="$( [ -f "$dir/controller.port" ] && cat "$dir/controller.port" || free_port)"
  echo "$port" > "$dir/port"; echo "$cport" > "$dir/controller.port"
  if [ -f "$dir/data/meta.properties" ] && [ ! -f "$dir/password" ]; then
    die "$dir was formatted before the broker required passwords; remove $dir/data to start it afresh (its topics are lost)"
  fi
  [ -f "$dir/password" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$dir/password"
  local pw; pw="$(cat "$dir/password")"
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=BROKER://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=BROKER://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=BROKER
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256
sasl.mechanism.controller.protocol=PLAIN
listener.name.broker.sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.broker.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="octet" password="$pw";
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="octet" password="$pw" user_octet="$pw";
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.flush.interval.messages=9223372036854775807
num.network.threads=2
num.io.threads=2
PROPS
  local cp="$LIB/*"
  local jvm=($HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
             -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$dir")
  if [ ! -f "$dir/data/meta.properties" ]; then
    local id; id="$("$JAVA" -cp "$cp" "${jvm[@]}" kafka.tools.StorageTool random-uuid)"
    # the SCRAM credential goes through a 0600 argument file (expanded by the java launcher), so
    # that the password never shows on a command line
    printf '%s\n' "--add-scram" "SCRAM-SHA-256=[name=octet,password=$pw]" > "$dir/format.args"
    "$JAVA" -cp "$cp" "${jvm[@]}" kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" \
      "@$dir/format.args" \
      > "$dir/format.log" 2>&1 || { rm -f "$dir/format.args"; cat "$dir/format.log" >&2; die "formatting $dir failed"; }
    rm -f "$dir/format.args"
  fi
  nohup "$JAVA" -cp "$cp" "${jvm[@]}" kafka.Kafka "$dir/server.properties" > "$dir/stdout.log" 2>&1 &
  echo $! > "$dir/kafka.pid"
  for _ in $(seq 1 600); do
    if listening "$port"; then echo "127.0.0.1:$port"; return 0; fi
    pid_of "$dir" >/dev/null || { tail -30 "$dir/stdout.log" "$dir/server.log" >&2 2>/dev/null; die "the broker exited at start"; }
    sleep 0.1
  done
  die "the broker did not listen on 127.0.0.1:$port within 60 s (see $dir/server.log)"
}

status() {
  local dir="${1:?usage: kafka.sh status DIR}"
  local pid; pid="$(pid_of "$dir")" || { echo "down"; return 1; }
  local port; port="$(cat "$dir/port")"
  listening "$port" || { echo "starting (pid $pid)"; return 1; }
  echo "up at 127.0.0.1:$port (pid $pid)"
}

stop() {
  local dir="${1:?usage: kafka.sh stop DIR}" sig="${2:-TERM}"
  local pid; pid="$(pid_of "$dir")" || { rm -f "$dir/kafka.pid"; return 0; }
  kill "-$sig" "$pid"
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$dir/kafka.pid"
}

case "${1:-}" in
  fetch) fetch ;;
  start) shift; start "$@" ;;
  status) shift; status "$@" ;;
  stop) shift; stop "$@" ;;
  kill) shift; stop "$1" KILL ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
