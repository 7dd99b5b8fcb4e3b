#!/bin/sh
# HAProxy for Ray Serve's HAProxy ingress (gateway.proxy: haproxy), kept to loopback.
#
# Ray writes HAProxy's configuration from a template whose stats page (`listen stats`, port 8404) and
# Prometheus exporter (`frontend prometheus`, port 9101) bind every interface, with no setting to
# change it. Serve runs this script in place of haproxy (RAY_SERVE_HAPROXY_BINARY_PATH, set by
# cluster/desk/topology.py): under the lock Ray writes the configuration with, it rebinds those two
# sections to 127.0.0.1, checks that nothing else in them listens elsewhere, and runs the real
# haproxy with Ray's arguments unchanged (Ray finds its haproxy processes by the config path in
# their command line). The API's own frontend keeps gateway.host. A configuration this cannot
# rewrite is refused: HAProxy does not start, and the gateway's start fails with Serve's error.
set -eu

real=${OCTET_HAPROXY_BIN:-$(PATH="$PATH:/usr/sbin:/usr/local/sbin" command -v haproxy || true)}
if [ -z "$real" ] || [ ! -x "$real" ]; then
  echo "octet: haproxy is not installed (apt-get install haproxy), needed by gateway.proxy: haproxy" >&2
  exit 127
fi

cfg=""
prev=""
for arg in "$@"; do
  if [ "$prev" = "-f" ]; then cfg=$arg; fi
  prev=$arg
done

if [ -n "$cfg" ]; then
  umask 077
  tmp="$cfg.octet.$$"
  # Ray holds an exclusive flock on "$cfg.lock" while it writes "$cfg": take it too, so a rewrite
  # never interleaves with a newer configuration being written.
  exec 9>>"$cfg.lock"
  flock -x 9
  # No answer of the API's frontend names its server (the replicas' uvicorn says `server: uvicorn`). (A request
  # HAProxy cannot read still gets its own HTML 400: before 3.2 it ignores `errorfile 400` there, haproxy#3032.)
  if ! awk '
    /^[^ \t#]/ { section = $1 " " $2 }
    (section == "listen stats" || section == "frontend prometheus") && $1 == "bind" {
      sub(/bind[ \t]+(\*|0\.0\.0\.0|::|\[::\])?:/, "bind 127.0.0.1:")
      if ($0 !~ /^[ \t]*bind 127\.0\.0\.1:[0-9]+([ \t]|$)/) { bad = 1 }
    }
    section == "frontend http_frontend" && $0 ~ /^[ \t]*http-response del-header server[ \t]*$/ {
      next  # put there by an earlier run of this script on the same file: written once below
    }
    /^frontend http_frontend([ \t]|$)/ {
      print
      print "    http-response del-header server"
      next
    }
    { print }
    END { exit bad }
  ' "$cfg" >"$tmp"; then
    rm -f "$tmp"
    echo "octet: HAProxy's configuration $cfg has a stats or metrics bind this script cannot keep to loopback; not starting" >&2
    exit 1
  fi
  mv "$tmp" "$cfg"
  flock -u 9
  exec 9>&-
fi

# HAProxy ends with the process that started it (Serve's HAProxy manager): a desk or `octet serve`
# killed outright must not leave it holding the API's port, answering 500 (util-linux's setpriv)
if command -v setpriv >/dev/null 2>&1; then
  exec setpriv --pdeathsig KILL "$real" "$@"
fi
exec "$real" "$@"
