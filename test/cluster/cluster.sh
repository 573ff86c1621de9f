#!/usr/bin/env bash
# The topology of docker-compose.yml without Docker: three nats-server
# binaries routed to each other on loopback ports (test/cluster/nats.conf,
# sync_interval: always), two ecm-broker instances against them
# (test/cluster/ecm.yaml, replicas: 3) and the Leeds adapters watching drop
# folders. compose_test.go checks that this script and docker-compose.yml
# name the same nodes, brokers and adapters with the same settings.
#
#   test/cluster/cluster.sh up       run it until Ctrl-C (state in $ECM_CLUSTER_DIR)
#   test/cluster/cluster.sh smoke    run it, publish exports while a node is killed
#                                    and started again, check, stop; exit 1 on a failure
#
# Needs curl and python3 (to read the monitoring JSON). Installs
# nats-server v2.15.2 with `go install` when it is not on PATH. Ports
# (change with the variables): clients 14222-14224, routes 16222-16224,
# monitoring 18222-18224, broker APIs 18081 and 18082.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The topology. Keep in step with docker-compose.yml (compose_test.go).
NODES="n1 n2 n3"
BROKERS="broker-1 broker-2"
ADAPTERS="pct lea connexions yot police"
AREA=leeds
SYNC_INTERVAL=always

CLIENT_BASE=${CLIENT_BASE:-14222}
ROUTE_BASE=${ROUTE_BASE:-16222}
MONITOR_BASE=${MONITOR_BASE:-18222}
HTTP_BASE=${HTTP_BASE:-18081}
DIR=${ECM_CLUSTER_DIR:-$(mktemp -d /tmp/ecm-cluster.XXXXXX)}
export PATH="$(go env GOPATH)/bin:$PATH"

mkdir -p "$DIR/bin" "$DIR/logs" "$DIR/pids"
echo "== state, logs and binaries in $DIR"
if ! command -v nats-server >/dev/null 2>&1 || ! nats-server --version | grep -q 'v2.15.2'; then
  echo "== installing nats-server v2.15.2"
  go install github.com/nats-io/nats-server/v2@v2.15.2
fi
go build -o "$DIR/bin/" ./cmd/ecm-broker ./cmd/ecm-adapter

i=0; ROUTES=(); URLS=""
for n in $NODES; do
  ROUTES+=("nats://127.0.0.1:$((ROUTE_BASE + i))")
  URLS="$URLS${URLS:+,}nats://127.0.0.1:$((CLIENT_BASE + i))"
  i=$((i + 1))
done

node_index() { local i=0; for n in $NODES; do [ "$n" = "$1" ] && { echo $i; return; }; i=$((i + 1)); done; return 1; }

start_node() {
  local n=$1 i; i=$(node_index "$n")
  mkdir -p "$DIR/store/$n"
  NATS_NAME=$n NATS_HOST=127.0.0.1 NATS_PORT=$((CLIENT_BASE + i)) NATS_CLUSTER_PORT=$((ROUTE_BASE + i)) \
    NATS_MONITOR_PORT=$((MONITOR_BASE + i)) NATS_ROUTE_1=${ROUTES[0]} NATS_ROUTE_2=${ROUTES[1]} NATS_ROUTE_3=${ROUTES[2]} \
    NATS_STORE="$DIR/store/$n" NATS_SYNC_INTERVAL=$SYNC_INTERVAL \
    nats-server --config test/cluster/nats.conf >>"$DIR/logs/$n.log" 2>&1 &
  echo $! >"$DIR/pids/$n"
}

stop() { # stop NAME [SIGNAL]: the process this script started under NAME, by its pid
  local f="$DIR/pids/$1" pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  kill "-${2:-TERM}" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$f"
}

wait_http() { # wait_http URL: until it answers 200, 60 s at most
  for _ in $(seq 600); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no answer from $1"; return 1
}

start_broker() {
  local b=$1 i=${1#broker-}
  "$DIR/bin/ecm-broker" --config test/cluster/ecm.yaml --nats "$URLS" --http "127.0.0.1:$((HTTP_BASE + i - 1))" \
    >>"$DIR/logs/$b.log" 2>&1 &
  echo $! >"$DIR/pids/$b"
}

# run_broker NAME: start it and wait until it is ready, starting it again
# when it exits first, as docker-compose.yml's restart policy does (a broker
# that cannot create its streams in time, on a cluster still electing its
# leaders, stops with the reason).
run_broker() {
  local b=$1 url="http://127.0.0.1:$((HTTP_BASE + ${1#broker-} - 1))/readyz"
  for try in 1 2 3 4 5; do
    start_broker "$b"
    for _ in $(seq 600); do
      curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
      kill -0 "$(cat "$DIR/pids/$b")" 2>/dev/null || break
      sleep 0.1
    done
    echo "$b stopped before it was ready (try $try): $(tail -1 "$DIR/logs/$b.log")"
    rm -f "$DIR/pids/$b"
    sleep 1
  done
  return 1
}

start_adapter() {
  local a=$1
  mkdir -p "$DIR/drop/$a"
  "$DIR/bin/ecm-adapter" --agency "$a" --area "$AREA" --watch "$DIR/drop/$a" --poll 200ms --server "$URLS" \
    >>"$DIR/logs/adapter-$a.log" 2>&1 &
  echo $! >"$DIR/pids/adapter-$a"
}

down() {
  for a in $ADAPTERS; do stop "adapter-$a"; done
  for b in $BROKERS; do stop "$b"; done
  for n in $NODES; do stop "$n"; done
}
trap down EXIT
trap 'exit 130' INT TERM

up() {
  echo "== nodes: $NODES (sync_interval: $SYNC_INTERVAL)"
  for n in $NODES; do start_node "$n"; done
  i=0; for n in $NODES; do wait_http "http://127.0.0.1:$((MONITOR_BASE + i))/healthz"; i=$((i + 1)); done
  echo "== brokers: $BROKERS"
  for b in $BROKERS; do run_broker "$b"; done
  echo "== adapters ($AREA): $ADAPTERS"
  for a in $ADAPTERS; do start_adapter "$a"; done
}

# jsz NODE-INDEX: the node's own copy of the broker's streams, one
# "NAME MESSAGES" line each.
jsz() {
  curl -fsS "http://127.0.0.1:$((MONITOR_BASE + $1))/jsz?streams=true" | python3 -c '
import json, sys
for a in json.load(sys.stdin).get("account_details", []):
    for s in sorted(a.get("stream_detail", []), key=lambda s: s["name"]):
        print(s["name"], s["state"]["messages"])'
}

# pending: ingest events no broker has acknowledged yet.
pending() {
  curl -fsS "http://127.0.0.1:$MONITOR_BASE/jsz?consumers=true" | python3 -c '
import json, sys
n = 0
for a in json.load(sys.stdin).get("account_details", []):
    for s in a.get("stream_detail", []):
        for c in s.get("consumer_detail") or []:
            if c["name"].startswith("ecm-broker-"):
                n += c["num_pending"] + c["num_ack_pending"]
        for src in s.get("sources") or []:  # ECM_INGEST: events still to take from the participants streams
            n += src.get("lag", 0)
print(n)' || echo unknown
}

# published: events the adapters say they published.
published() {
  cat "$DIR"/logs/adapter-*.log | { grep '"msg":"export done"' || true; } | grep -o '"published":[0-9]*' |
    cut -d: -f2 | awk '{s += $1} END {print s + 0}' || true
}

# pct_export N FIRST: an export of N health-visitor involvements with valid
# UINs from 401000000 + FIRST (the generator in cmd/ecm-adapter's doc).
pct_export() {
  awk -v n="$1" -v first="$2" 'BEGIN { print "record_id,uin,action,practitioner_name,role,phone,email,service,date"
    for (i = first; k < n; i++) { s = sprintf("%09d", 401000000 + i); sum = 0
      for (j = 1; j <= 9; j++) sum += substr(s, j, 1) * (11 - j)
      c = 11 - sum % 11; if (c == 11) c = 0; if (c == 10) continue
      printf "HV-%06d,%s%d,involved,Sarah Whitaker,Health visitor,0113 843 2100,,Health visiting,2025-03-04\n", i, s, c; k++ } }'
}

drop() { # drop AGENCY NAME N FIRST: an export appears in the agency's folder whole
  pct_export "$3" "$4" >"$DIR/drop/$1/.$2" && mv "$DIR/drop/$1/.$2" "$DIR/drop/$1/$2"
}

smoke() {
  local fail=0
  up
  echo "== an export of 2000 records, and n1 killed while it is taken in"
  drop pct part1-involvements.csv 2000 0
  sleep 1
  stop n1 KILL
  echo "== n1 killed; a second export of 2000 while it is down"
  drop pct part2-involvements.csv 2000 5000
  sleep 3
  start_node n1
  wait_http "http://127.0.0.1:$MONITOR_BASE/healthz"
  echo "== n1 back on its old store"
  for _ in $(seq 600); do
    [ "$(ls "$DIR/drop/pct/done" 2>/dev/null | grep -c '\.csv$' || true)" = 2 ] && [ "$(pending)" = 0 ] && break
    sleep 0.2
  done
  sleep 2
  local want; want=$(published)
  echo "adapters published $want events"
  local v0 v1 v2
  v0=$(jsz 0); v1=$(jsz 1); v2=$(jsz 2)
  echo "$v1" | sed 's/^/  n2: /'
  if [ "$v0" != "$v1" ] || [ "$v1" != "$v2" ]; then
    echo "FAIL: the nodes hold different streams"; diff <(echo "$v0") <(echo "$v2") || true; fail=1
  fi
  if ! grep -qx "ECM_INGEST $want" <<<"$v1"; then echo "FAIL: ECM_INGEST does not hold exactly the $want events published"; fail=1; fi
  if [ "$(pending)" != 0 ]; then echo "FAIL: $(pending) events not decided"; fail=1; fi
  if ! grep -qx "ECM_DEADLETTER 0" <<<"$v1"; then echo "FAIL: dead letters"; fail=1; fi
  for b in $BROKERS; do
    curl -fsS -o /dev/null "http://127.0.0.1:$((HTTP_BASE + ${b#broker-} - 1))/readyz" || { echo "FAIL: $b not ready"; fail=1; }
  done
  # Every delivered copy once: the ids of leeds/la-social-care's copies, paged.
  local after=0 next page ids="$DIR/ids" retries=0
  : >"$ids"
  while :; do
    # A 503 (the broker could not read the stream at that moment) is retried.
    if ! page=$(curl -sS -f -H "Authorization: Bearer cluster-demo-leeds-la-social-care" \
      "http://127.0.0.1:$HTTP_BASE/v1/deliveries?after=$after&limit=1000" 2>&1); then
      retries=$((retries + 1))
      echo "  reading deliveries: $page (retry $retries)"
      [ $retries -lt 50 ] || { echo "FAIL: deliveries unreadable"; fail=1; break; }
      sleep 0.2; continue
    fi
    grep -o '"id":"[^"]*","source":"[^"]*"' <<<"$page" | cut -d'"' -f4 >>"$ids" || true
    next=$(grep -o '"next":[0-9]*' <<<"$page" | cut -d: -f2 || true)
    [ "$next" = "$after" ] && break
    after=$next
  done
  echo "leeds/la-social-care holds $(wc -l <"$ids") copies, $(sort "$ids" | uniq -d | wc -l) of them twice"
  if [ -n "$(sort "$ids" | uniq -d)" ]; then echo "FAIL: duplicate deliveries"; fail=1; fi
  if [ "$(wc -l <"$ids")" = 0 ]; then echo "FAIL: nothing delivered"; fail=1; fi
  if [ "$fail" = 0 ]; then echo "smoke: 1 passed, 0 failed"; else echo "smoke: 0 passed, 1 failed"; fi
  return $fail
}

case "${1:-up}" in
  up)
    up
    echo "== running. Drop exports into $DIR/drop/<agency>; APIs on 127.0.0.1:$HTTP_BASE and :$((HTTP_BASE + 1)). Ctrl-C stops."
    wait
    ;;
  smoke) smoke ;;
  *) echo "usage: $0 [up|smoke]"; exit 2 ;;
esac
