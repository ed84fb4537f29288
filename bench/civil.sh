#!/usr/bin/env bash
# Civil-registration figures of BENCHMARKS.md: birth registrations/s end to end (the leader's
# approval over HTTP: register checks, new PID, the child in the parent's household, the
# civil-status record, the events and the dossier step, one transaction each), and webhook
# deliveries/s to a local receiver (agency-sim), including a receiver restart in the middle
# (nothing may be lost).
# Usage: bench/civil.sh [sqlite|postgres]   (needs sqlite3 / psql, curl, python3)
set -euo pipefail
NAME=civil
. "$(dirname "$0")/common.sh"
PORT=8813
SIM_PORT=8814
BIRTHS=${BENCH_BIRTHS:-20000}
HOOKS=${BENCH_HOOKS:-20000}
BASE=http://127.0.0.1:$PORT
machine
CIVITAS_LOG=warn CIVITAS_DEMO_PEOPLE=${BENCH_PEOPLE:-120000} $BIN serve --demo --database "$URL" --listen 127.0.0.1:$PORT > "$DIR/demo.txt" 2>&1 &
SERVER=$!
SIM=
trap 'kill $SERVER $SIM 2>/dev/null || true' EXIT
for _ in $(seq 300); do grep -q "TOKEN" "$DIR/demo.txt" 2>/dev/null && break; sleep 0.2; done
$BIN agency add --database "$URL" --id social-insurance --name "BHXH" --url "http://127.0.0.1:$SIM_PORT/hooks" > /dev/null

echo "== $BIRTHS birth dossiers (DVC-09) waiting for the leader's decision"
TODAY=$(date -u +%F)
BORN=$(date -u -d '-3 days' +%F)
COLS="code, procedure_code, body_code, unit_code, applicant_pid, applicant_name, channel, state, step_index, data, received_at, received_on, statutory_days, appointment_on, pauses, version, catalogue_version"
if [ "$BACKEND" = postgres ]; then
  sql "INSERT INTO dossiers ($COLS)
       SELECT 'H01.8-' || lpad(row_number() OVER (ORDER BY pid)::text, 8, '0'), 'DVC-09', 'H01.8', permanent_commune, pid, full_name, 'online', 'in_processing', 1,
              '{\"fields\":{\"child_name\":\"Nguyễn Thị Bé\",\"child_birth_date\":\"$BORN\",\"child_sex\":\"female\",\"birth_cert_no\":\"GCS-' || pid || '\",\"live_with\":\"applicant\",\"commune\":\"' || permanent_commune || '\"}}',
              '${TODAY}T01:00:00.000000Z', '$TODAY', 1, '$TODAY', '[]', 3, 'bench'
       FROM people WHERE sex = 'female' AND status = 'living' AND household_id IS NOT NULL AND permanent_commune IS NOT NULL AND birth_year BETWEEN 1976 AND 2006
       ORDER BY pid LIMIT $BIRTHS"
else
  sql "INSERT INTO dossiers ($COLS)
       SELECT printf('H01.8-%08d', row_number() OVER (ORDER BY pid)), 'DVC-09', 'H01.8', permanent_commune, pid, full_name, 'online', 'in_processing', 1,
              '{\"fields\":{\"child_name\":\"Nguyễn Thị Bé\",\"child_birth_date\":\"$BORN\",\"child_sex\":\"female\",\"birth_cert_no\":\"GCS-' || pid || '\",\"live_with\":\"applicant\",\"commune\":\"' || permanent_commune || '\"}}',
              '${TODAY}T01:00:00.000000Z', '$TODAY', 1, '$TODAY', '[]', 3, 'bench'
       FROM people WHERE sex = 'female' AND status = 'living' AND household_id IS NOT NULL AND permanent_commune IS NOT NULL AND birth_year BETWEEN 1976 AND 2006
       ORDER BY pid LIMIT $BIRTHS"
fi
N=$(sql "SELECT COUNT(*) FROM dossiers WHERE body_code = 'H01.8'")
sql "SELECT code FROM dossiers WHERE body_code = 'H01.8' ORDER BY code" | sed 's|^|/api/v1/dossiers/|; s|$|/actions|' > "$DIR/paths.txt"
LEADER=$($BIN token --database "$URL" --role leader --unit 01 --subject bench-leader)
people_before=$(sql "SELECT COUNT(*) FROM people")
echo "dossiers ready: $N"
echo "== birth registrations/s (POST .../actions approve, 16 connections, each dossier once, 10 s)"
$LOAD --base $BASE --paths "$DIR/paths.txt" --json '{"action":"approve"}' --token "$LEADER" --concurrency 16 --duration 10 --label "birth approval" | tee "$DIR/births.json"
approved=$(sql "SELECT COUNT(*) FROM civil_records WHERE kind = 'birth'")
echo "births registered in 10 s: $approved = $(python3 -c "print(f'{$approved/10:,.0f}')")/s ($((N - approved)) of $N dossiers still waiting at the end: the run was not starved)"
echo "children added to the register: $(( $(sql "SELECT COUNT(*) FROM people") - people_before )); civil records: $approved; birth events: $(sql "SELECT COUNT(*) FROM events WHERE kind = 'civil.birth_registered'")"

echo "== webhook deliveries/s: $HOOKS deliveries to agency-sim"
make_hooks() {
  local prefix=$1 now
  now=$(date +%s)
  if [ "$BACKEND" = postgres ]; then
    sql "INSERT INTO webhook_deliveries (id, agency_id, kind, subject_pid, dossier_code, payload, attempts, next_attempt_at, created_at)
         SELECT '$prefix' || n, 'social-insurance', 'health_insurance.child_card', '001300000001', 'H01.8-bench', '{\"id\":\"$prefix' || n || '\",\"kind\":\"health_insurance.child_card\",\"data\":{\"n\":' || n || '}}', 0, $now + 3600, '${TODAY}T01:00:00Z'
         FROM generate_series(1, $HOOKS) AS n"
  else
    sql "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $HOOKS)
         INSERT INTO webhook_deliveries (id, agency_id, kind, subject_pid, dossier_code, payload, attempts, next_attempt_at, created_at)
         SELECT '$prefix' || n, 'social-insurance', 'health_insurance.child_card', '001300000001', 'H01.8-bench', '{\"id\":\"$prefix' || n || '\",\"kind\":\"health_insurance.child_card\",\"data\":{\"n\":' || n || '}}', 0, $now + 3600, '${TODAY}T01:00:00Z'
         FROM s"
  fi
  # Released all at once.
  sql "UPDATE webhook_deliveries SET next_attempt_at = $(date +%s) WHERE id LIKE '$prefix%'"
}
start_sim() {
  $BIN agency-sim --listen 127.0.0.1:$SIM_PORT --jwks "$BASE/oauth2/jwks" > "$DIR/sim.txt" 2>&1 &
  SIM=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$SIM_PORT/received" && break; sleep 0.1; done
}
pending() { sql "SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NULL AND dead = 0"; }
start_sim
sleep 1
before=$(pending)
make_hooks a
t0=$(date +%s.%N)
while [ "$(pending)" -gt "$before" ]; do sleep 0.1; done
t1=$(date +%s.%N)
python3 -c "d=$t1-$t0; print(f'delivered $HOOKS in {d:.2f} s: {$HOOKS/d:,.0f} deliveries/s')"
echo "== the receiver restarts during delivery"
make_hooks b
sleep 1.5
kill $SIM; wait $SIM 2>/dev/null || true
echo "receiver down with $(pending) pending"
sleep 2
start_sim
while [ "$(pending)" -gt "$before" ]; do sleep 0.2; done
lost=$(sql "SELECT COUNT(*) FROM webhook_deliveries WHERE id LIKE 'b%' AND delivered_at IS NULL")
dead=$(sql "SELECT COUNT(*) FROM webhook_deliveries WHERE dead = 1")
echo "after the restart: undelivered $lost, dead letters $dead (every delivery acknowledged by the receiver)"
