#!/usr/bin/env bash
# One-stop figures of BENCHMARKS.md: durable online dossier submissions/s over HTTP (e-ID access
# token, form checked against the register, group-committed; SQLite synchronous=FULL), a crash
# check (kill -9 under load: every acknowledged dossier is in the database afterwards), and the
# officer's work-queue page and API with 1 M dossiers in the database.
# Usage: bench/one_stop.sh [sqlite|postgres]   (needs sqlite3 / psql, curl, python3)
set -euo pipefail
NAME=onestop
. "$(dirname "$0")/common.sh"
PORT=8812
DURATION=${BENCH_SECONDS:-10}
DOSSIERS=${BENCH_DOSSIERS:-1000000}
BASE=http://127.0.0.1:$PORT
start() {
  CIVITAS_LOG=warn CIVITAS_DEMO_PEOPLE=2000 $BIN serve --demo --database "$URL" --listen 127.0.0.1:$PORT > "$DIR/demo.txt" 2>&1 &
  SERVER=$!
  for _ in $(seq 150); do grep -q "TOKEN" "$DIR/demo.txt" 2>/dev/null && break; sleep 0.2; done
}
machine
start
trap 'kill $SERVER 2>/dev/null || true' EXIT
CITIZEN=$(grep -o 'citizens: *[0-9]\{12\}' "$DIR/demo.txt" | grep -o '[0-9]\{12\}')

# The citizen's access token, through the real code flow and one refresh.
$LOAD --base $BASE --prepare-refresh 1 --scope "openid offline_access dossiers documents" --user "$CITIZEN:hoa-sen-vang-2026" \
  --basic demo-portal:demo-portal-secret-0123456789abcdef --redirect http://127.0.0.1:9/callback --out "$DIR/refresh.txt"
ACCESS=$(curl -s -u demo-portal:demo-portal-secret-0123456789abcdef -d grant_type=refresh_token \
  --data-urlencode "refresh_token=$(head -1 "$DIR/refresh.txt")" $BASE/oauth2/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
printf '%%PDF-1.4\n%% lease\n%%%%EOF\n' > "$DIR/lease.pdf"
DOC=$(curl -s -H "Authorization: Bearer $ACCESS" --data-binary @"$DIR/lease.pdf" "$BASE/api/v1/me/documents?name=lease.pdf" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
BODY="{\"procedure\":\"DVC-03\",\"fields\":{\"address\":\"Số 8 phố Kim Mã\",\"commune\":\"00004\",\"basis\":\"rented\"},\"components\":{\"CHO_O\":\"$DOC\"}}"

echo "== durable online submissions/s (POST /api/v1/dossiers, Idempotency-Key each, 64 connections, ${DURATION} s)"
$LOAD --base $BASE --path /api/v1/dossiers --json "$BODY" --unique-key --header "Authorization: Bearer $ACCESS" \
  --concurrency 64 --duration "$DURATION" --label "online submission"

echo "== crash check: kill -9 the server during load; every acknowledged dossier must be stored"
before=$(sql "SELECT COUNT(*) FROM dossiers")
$LOAD --base $BASE --path /api/v1/dossiers --json "$BODY" --unique-key --header "Authorization: Bearer $ACCESS" \
  --concurrency 64 --duration 4 --label "submissions until the crash" > "$DIR/crash.json" &
LOADPID=$!
sleep 3; kill -9 $SERVER; wait $LOADPID || true
cat "$DIR/crash.json"
acked=$(python3 -c "import json; d=json.load(open('$DIR/crash.json')); print(d['requests']-d['errors'])")
after=$(sql "SELECT COUNT(*) FROM dossiers")
echo "acknowledged: $acked, stored after restart: $((after - before))"
[ $((after - before)) -ge "$acked" ] && echo "crash check: OK (nothing acknowledged was lost)" || echo "crash check: FAILED"

echo "== $DOSSIERS dossiers for the work queue (200 units; 20 % open)"
if [ "$BACKEND" = postgres ]; then
  sql "INSERT INTO dossiers (code, procedure_code, body_code, unit_code, applicant_pid, applicant_name, channel, state, step_index, data, received_at, received_on, statutory_days, appointment_on, pauses, version, catalogue_version)
       SELECT 'H01.9-' || to_char(n, 'FM0000000000'), 'DVC-0' || (n % 9 + 1), 'H01.9', CASE WHEN n % 200 = 0 THEN '00004' ELSE lpad((n % 200 * 7 + 10000)::text, 5, '0') END,
              lpad((n % 1000000)::text, 12, '0'), 'Người thứ ' || n, 'online',
              CASE n % 10 WHEN 0 THEN 'received' WHEN 1 THEN 'in_processing' ELSE 'returned' END, 0,
              '{\"fields\":{\"address\":\"Số ' || n || ' phố Kim Mã\"}}', '2026-01-01T01:00:00.000000Z',
              to_char(date '2024-01-01' + (n % 1000), 'YYYY-MM-DD'), 7, to_char(date '2024-01-10' + (n % 1000), 'YYYY-MM-DD'), '[]', 1, 'bench'
       FROM generate_series(1, $DOSSIERS) AS n"
  sql "ANALYZE dossiers"
else
  sql "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $DOSSIERS)
       INSERT INTO dossiers (code, procedure_code, body_code, unit_code, applicant_pid, applicant_name, channel, state, step_index, data, received_at, received_on, statutory_days, appointment_on, pauses, version, catalogue_version)
       SELECT printf('H01.9-%010d', n), 'DVC-0' || (n % 9 + 1), 'H01.9', CASE WHEN n % 200 = 0 THEN '00004' ELSE printf('%05d', n % 200 * 7 + 10000) END,
              printf('%012d', n % 1000000), 'Người thứ ' || n, 'online',
              CASE n % 10 WHEN 0 THEN 'received' WHEN 1 THEN 'in_processing' ELSE 'returned' END, 0,
              '{\"fields\":{\"address\":\"Số ' || n || ' phố Kim Mã\"}}', '2026-01-01T01:00:00.000000Z',
              date('2024-01-01', '+' || (n % 1000) || ' days'), 7, date('2024-01-10', '+' || (n % 1000) || ' days'), '[]', 1, 'bench'
       FROM s"
  sql "ANALYZE"
fi
echo "dossiers in the database: $(sql "SELECT COUNT(*) FROM dossiers"); open in unit 00004: $(sql "SELECT COUNT(*) FROM dossiers WHERE unit_code = '00004' AND state IN ('received','in_processing','supplement_requested','approved')")"
start
OFFICER=$($BIN token --database "$URL" --role onestop-officer --unit 00004 --subject bench-officer)
echo "== work-queue page (HTML, 100 rows, earliest due first; open loop 50/s, ${DURATION} s)"
$LOAD --base $BASE --path /officer/queue --header "cookie: civitas_session=$OFFICER" --rate 50 --duration "$DURATION" --label "work-queue page"
$LOAD --base $BASE --path "/officer/queue?due=overdue&procedure=DVC-03" --header "cookie: civitas_session=$OFFICER" --rate 50 --duration "$DURATION" --label "work-queue page, overdue DVC-03"
echo "== work-queue API (JSON, 50 rows; open loop 200/s, ${DURATION} s)"
$LOAD --base $BASE --path /api/v1/work-queue --token "$OFFICER" --rate 200 --duration "$DURATION" --label "work-queue API"
echo "== RSS of the server: $(ps -o rss= -p $SERVER | awk '{printf "%.0f MiB", $1/1024}')"
