#!/usr/bin/env bash
# Several servers on one PostgreSQL (issue #14): aggregate durable submissions/s of three
# servers against one, webhook deliveries/s with three servers claiming from one queue (and how
# many arrived more than once), and the time the servers take to answer again after a
# PostgreSQL restart. No load balancer: one load generator per server (what a round-robin
# balancer does), all on this machine.
# Usage: bench/cluster.sh   (PostgreSQL; needs psql, curl, python3, pg_ctlcluster for the restart)
set -euo pipefail
NAME=cluster
. "$(dirname "$0")/common.sh" postgres
PORTS=(8821 8822 8823)
SIM_PORT=8824
DURATION=${BENCH_SECONDS:-10}
HOOKS=${BENCH_HOOKS:-20000}
BASE=http://127.0.0.1:${PORTS[0]}
# The claim lease of webhook deliveries and messages: how long a killed server's claims wait.
export CIVITAS_JOB_CLAIM_LEASE_SECS=${BENCH_LEASE:-15}
PIDS=()
SIM=
trap 'kill ${PIDS[@]} $SIM 2>/dev/null || true' EXIT
machine
CIVITAS_LOG=warn CIVITAS_DEMO_PEOPLE=2000 $BIN serve --demo --database "$URL" --listen 127.0.0.1:${PORTS[0]} > "$DIR/demo.txt" 2>&1 &
PIDS+=($!)
for _ in $(seq 150); do grep -q "TOKEN" "$DIR/demo.txt" 2>/dev/null && break; sleep 0.2; done
CITIZEN=$(grep -o 'citizens: *[0-9]\{12\}' "$DIR/demo.txt" | grep -o '[0-9]\{12\}')
$LOAD --base $BASE --prepare-refresh 1 --scope "openid offline_access dossiers documents" --user "$CITIZEN:hoa-sen-vang-2026" \
  --basic demo-portal:demo-portal-secret-0123456789abcdef --redirect http://127.0.0.1:9/callback --out "$DIR/refresh.txt" > /dev/null
ACCESS=$(curl -s -u demo-portal:demo-portal-secret-0123456789abcdef -d grant_type=refresh_token \
  --data-urlencode "refresh_token=$(head -1 "$DIR/refresh.txt")" $BASE/oauth2/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
printf '%%PDF-1.4\n%% lease\n%%%%EOF\n' > "$DIR/lease.pdf"
DOC=$(curl -s -H "Authorization: Bearer $ACCESS" --data-binary @"$DIR/lease.pdf" "$BASE/api/v1/me/documents?name=lease.pdf" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
BODY="{\"procedure\":\"DVC-03\",\"fields\":{\"address\":\"Số 8 phố Kim Mã\",\"commune\":\"00004\",\"basis\":\"rented\"},\"components\":{\"CHO_O\":\"$DOC\"}}"
rate() { python3 -c "import json,sys; print(sum(json.load(open(f))['rps'] for f in sys.argv[1:]))" "$@"; }

echo "== durable submissions/s, one server (48 connections, ${DURATION} s)"
$LOAD --base $BASE --path /api/v1/dossiers --json "$BODY" --unique-key --header "Authorization: Bearer $ACCESS" \
  --concurrency 48 --duration "$DURATION" --label "one server" > "$DIR/one.json"
cat "$DIR/one.json"
$BIN agency add --database "$URL" --id social-insurance --name "BHXH" --url "http://127.0.0.1:$SIM_PORT/hooks" > /dev/null
$BIN agency-sim --listen 127.0.0.1:$SIM_PORT --jwks "$BASE/oauth2/jwks" > "$DIR/sim.txt" 2>&1 &
SIM=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$SIM_PORT/received" && break; sleep 0.1; done
TODAY=$(date -u +%F)
# deliveries PREFIX LABEL: releases $HOOKS deliveries at once and times them until all are out.
deliveries() {
  echo "== webhook deliveries: $HOOKS released at once, $2"
  sql "INSERT INTO webhook_deliveries (id, agency_id, kind, subject_pid, dossier_code, payload, attempts, next_attempt_at, created_at)
       SELECT '$1' || n, 'social-insurance', 'health_insurance.child_card', '001300000001', 'H01.8-bench', '{\"n\":' || n || '}', 0, $(date +%s) + 3600, '${TODAY}T01:00:00Z'
       FROM generate_series(1, $HOOKS) AS n"
  sql "UPDATE webhook_deliveries SET next_attempt_at = $(date +%s) WHERE id LIKE '$1%'"
  local t0 t1
  t0=$(date +%s.%N)
  while [ "$(sql "SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NULL AND dead = 0")" -gt 0 ]; do sleep 0.05; done
  t1=$(date +%s.%N)
  python3 -c "d=$t1-$t0; print(f'delivered $HOOKS in {d:.2f} s: {$HOOKS/d:,.0f} deliveries/s')"
  curl -s "http://127.0.0.1:$SIM_PORT/received" | python3 -c '
import json, sys
items = [x for x in json.load(sys.stdin) if str(x.get("id", "")).startswith(sys.argv[1])]
twice = sum(1 for x in items if x.get("times", 1) > 1)
print(f"receiver: {len(items)} distinct deliveries of this round, {twice} arrived more than once")' "$1"
  echo "attempts recorded: $(sql "SELECT COUNT(*) FROM webhook_deliveries WHERE id LIKE '$1%' AND attempts > 1") deliveries of this round with more than one attempt"
}
deliveries o "one server"

# The other two servers (same database, same public URL).
for port in "${PORTS[@]:1}"; do
  CIVITAS_LOG=warn CIVITAS_ISSUER=$BASE $BIN serve --database "$URL" --listen 127.0.0.1:$port > "$DIR/server-$port.txt" 2>&1 &
  PIDS+=($!)
done
for port in "${PORTS[@]}"; do
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.1; done
done
echo "== durable submissions/s, three servers (16 connections each, ${DURATION} s)"
LOADS=()
for port in "${PORTS[@]}"; do
  $LOAD --base http://127.0.0.1:$port --path /api/v1/dossiers --json "$BODY" --unique-key --header "Authorization: Bearer $ACCESS" \
    --concurrency 16 --duration "$DURATION" --label "server $port" > "$DIR/three-$port.json" &
  LOADS+=($!)
done
wait "${LOADS[@]}"
cat "$DIR"/three-*.json
one=$(rate "$DIR/one.json")
three=$(rate "$DIR"/three-*.json)
python3 -c "print(f'one server {$one:,.0f}/s, three servers {$three:,.0f}/s: {$three/$one:.2f}x')"

deliveries c "three servers claiming"

echo "== kill -9 of one server while it delivers: its claimed deliveries wait for their lease (${CIVITAS_JOB_CLAIM_LEASE_SECS} s), then another server sends them"
sql "INSERT INTO webhook_deliveries (id, agency_id, kind, subject_pid, dossier_code, payload, attempts, next_attempt_at, created_at)
     SELECT 'k' || n, 'social-insurance', 'health_insurance.child_card', '001300000001', 'H01.8-bench', '{\"n\":' || n || '}', 0, $(date +%s) + 3600, '${TODAY}T01:00:00Z'
     FROM generate_series(1, $HOOKS) AS n"
sql "UPDATE webhook_deliveries SET next_attempt_at = $(date +%s) WHERE id LIKE 'k%'"
t0=$(date +%s.%N)
sleep 0.3
kill -9 "${PIDS[1]}"
echo "killed the server on ${PORTS[1]} with $(sql "SELECT COUNT(*) FROM webhook_deliveries WHERE id LIKE 'k%' AND delivered_at IS NULL") pending"
while [ "$(sql "SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NULL AND dead = 0")" -gt 0 ]; do sleep 0.2; done
t1=$(date +%s.%N)
python3 -c "print(f'all $HOOKS delivered {$t1-$t0:.1f} s after the release')"
curl -s "http://127.0.0.1:$SIM_PORT/received" | python3 -c '
import json, sys
r = json.load(sys.stdin)
items = r if isinstance(r, list) else r.get("items", r.get("received", []))
k = [x for x in items if str(x.get("id", "")).startswith("k")]
twice = sum(1 for x in k if x.get("times", 1) > 1)
print(f"receiver: {len(k)} distinct of this round, {twice} arrived more than once (the receiver answers a repeat as a duplicate: in effect once)")'
PIDS=("${PIDS[0]}" "${PIDS[2]}")
PORTS=("${PORTS[0]}" "${PORTS[2]}")

if command -v pg_ctlcluster > /dev/null; then
  echo "== PostgreSQL restart: time until the servers answer again"
  V=$(ls /etc/postgresql | head -1)
  pg_ctlcluster --skip-systemctl-redirect "$V" main restart
  t0=$(date +%s.%N)
  for port in "${PORTS[@]}"; do
    until curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; do sleep 0.02; done
  done
  until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ACCESS" -H 'content-type: application/json' -d "$BODY" $BASE/api/v1/dossiers)" = 201 ]; do sleep 0.02; done
  t1=$(date +%s.%N)
  python3 -c "print(f'recovered {$t1-$t0:.2f} s after the restart returned (readyz 200 on each, a submission accepted)')"
fi
