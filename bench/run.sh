#!/usr/bin/env bash
# Measures the figures of BENCHMARKS.md on this machine. Usage: bench/run.sh [PEOPLE]
# BENCH_HTTP_ONLY=1 reuses the database of an earlier run and measures only the HTTP part.
# Needs: sqlite3 and psql (Debian packages), a PostgreSQL at $BENCH_POSTGRES (default
# postgres://postgres@127.0.0.1:5432), ~3 GB free in $BENCH_DIR (default /tmp/civitas-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DIR=${BENCH_DIR:-/tmp/civitas-bench}
PG=${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
BIN=target/release/civitas
mkdir -p "$DIR"
cargo build --release --locked -q
cargo bench --bench http_load --no-run -q 2>/dev/null
cargo bench --bench register_read --no-run -q 2>/dev/null
LOAD=$(ls -t target/release/deps/http_load-* | grep -v '\.d$' | head -1)
READ=$(ls -t target/release/deps/register_read-* | grep -v '\.d$' | head -1)
export CIVITAS_LOG=warn

secs() { python3 -c "import sys; print(f'{float(sys.argv[1]):.2f}')" "$1"; }
now() { date +%s.%N; }
rate() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):,.0f}')" "$1" "$2"; }

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(date -u +%F)"
if [ "${BENCH_HTTP_ONLY:-0}" != 1 ]; then
echo "== generate $N people"
t0=$(now); $BIN generate --people "$N" --province 01 --seed 7 > "$DIR/people.ndjson"; t1=$(now)
echo "generate: $(secs "$(echo "$t1 - $t0" | bc)") s ($(du -h "$DIR/people.ndjson" | cut -f1))"

echo "== SQLite import"
rm -f "$DIR"/import.db*
t0=$(now); $BIN import "$DIR/people.ndjson" --database "sqlite://$DIR/import.db"; t1=$(now)
import_s=$(echo "$t1 - $t0" | bc)
echo "sqlite import: $(secs "$import_s") s, $(rate "$N" "$import_s") people/s"

# The raw rate: the same rows (people, households, events as the import wrote them), dumped to
# CSV and loaded with the sqlite3 CLI (.import: prepared INSERTs in one transaction) into a
# fresh database with the same schema, indexes and pragmas.
for t in people households events; do
  sqlite3 -header -csv "$DIR/import.db" "SELECT * FROM $t" > "$DIR/$t.csv"
done
rm -f "$DIR"/raw.db*
$BIN migrate --database "sqlite://$DIR/raw.db" > /dev/null
t0=$(now)
sqlite3 "$DIR/raw.db" "PRAGMA journal_mode=WAL;" "PRAGMA synchronous=NORMAL;" ".import --csv --skip 1 $DIR/people.csv people" > /dev/null
t1=$(now)
raw_people_s=$(echo "$t1 - $t0" | bc)
t0=$(now)
sqlite3 "$DIR/raw.db" "PRAGMA journal_mode=WAL;" "PRAGMA synchronous=NORMAL;" ".import --csv --skip 1 $DIR/households.csv households" ".import --csv --skip 1 $DIR/events.csv events" > /dev/null
t1=$(now)
raw_rest_s=$(echo "$t1 - $t0" | bc)
raw_all_s=$(echo "$raw_people_s + $raw_rest_s" | bc)
echo "sqlite3 CLI raw, people rows only: $(secs "$raw_people_s") s, $(rate "$N" "$raw_people_s") rows/s"
echo "sqlite3 CLI raw, all rows the import writes (people+households+events): $(secs "$raw_all_s") s, $(rate "$N" "$raw_all_s") people/s"
echo "ratio import / raw(all rows): $(python3 -c "print(f'{$raw_all_s/$import_s*100:.0f} %')")   import / raw(people only): $(python3 -c "print(f'{$raw_people_s/$import_s*100:.0f} %')")"

echo "== PostgreSQL import"
DB=civitas_bench_$$
psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
t0=$(now); $BIN import "$DIR/people.ndjson" --database "$PG/$DB"; t1=$(now)
pg_import_s=$(echo "$t1 - $t0" | bc)
echo "postgres import: $(secs "$pg_import_s") s, $(rate "$N" "$pg_import_s") people/s"
RAW=${DB}_raw
psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $RAW" -c "CREATE DATABASE $RAW"
$BIN migrate --database "$PG/$RAW" > /dev/null
t0=$(now); psql -q "$PG/$RAW" -c "\\copy people FROM '$DIR/people.csv' CSV HEADER"; t1=$(now)
pg_raw_people_s=$(echo "$t1 - $t0" | bc)
t0=$(now); psql -q "$PG/$RAW" -c "\\copy households FROM '$DIR/households.csv' CSV HEADER" -c "\\copy events FROM '$DIR/events.csv' CSV HEADER"; t1=$(now)
pg_raw_all_s=$(echo "$pg_raw_people_s + $t1 - $t0" | bc)
echo "COPY raw, people rows only: $(secs "$pg_raw_people_s") s, $(rate "$N" "$pg_raw_people_s") rows/s"
echo "COPY raw, all rows the import writes: $(secs "$pg_raw_all_s") s, $(rate "$N" "$pg_raw_all_s") people/s"
echo "ratio import / raw(all rows): $(python3 -c "print(f'{$pg_raw_all_s/$pg_import_s*100:.0f} %')")   import / raw(people only): $(python3 -c "print(f'{$pg_raw_people_s/$pg_import_s*100:.0f} %')")"
psql -q "$PG/postgres" -c "DROP DATABASE $RAW" -c "DROP DATABASE $DB"
fi

echo "== HTTP on the SQLite database with $N people"
PORT=18080
$BIN serve --database "sqlite://$DIR/import.db" --listen 127.0.0.1:$PORT > /dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.1; done
TOKEN=$($BIN token --role agency-system --unit 01 --subject bench --database "sqlite://$DIR/import.db")
python3 - "$DIR" <<'PY'
import json, random, sys
d = sys.argv[1]
random.seed(7)
people = [json.loads(l) for l in open(f"{d}/people.ndjson")]
sample = random.sample(people, 20000)
with open(f"{d}/pid-paths.txt", "w") as f:
    for p in sample:
        f.write(f"/api/v1/people/{p['pid']}\n")
import unicodedata
def fold(s):
    s = unicodedata.normalize("NFD", s.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in s if unicodedata.category(c) != "Mn").lower()
with open(f"{d}/search-paths.txt", "w") as f:
    for p in sample[:5000]:
        f.write("/api/v1/people?q=" + fold(p["full_name"]).replace(" ", "+") + "\n")
PY
B="--base http://127.0.0.1:$PORT"
$LOAD $B --path /healthz --concurrency 16 --duration 10 --label healthz-max | tee "$DIR/healthz.json"
$LOAD $B --paths "$DIR/pid-paths.txt" --token "$TOKEN" --concurrency 16 --duration 10 --label pid-lookup-max | tee "$DIR/lookup.json"
half=$(python3 -c "import json; print(int(json.load(open('$DIR/lookup.json'))['rps']/2))")
$LOAD $B --paths "$DIR/pid-paths.txt" --token "$TOKEN" --rate "$half" --duration 10 --label "pid-lookup-at-${half}rps"
$LOAD $B --paths "$DIR/search-paths.txt" --token "$TOKEN" --concurrency 1 --duration 15 --label search-sequential
$LOAD $B --paths "$DIR/search-paths.txt" --token "$TOKEN" --concurrency 4 --duration 10 --label search-4-concurrent
COMMUNE_TOKEN=$($BIN token --role onestop-officer --unit 00004 --subject bench --database "sqlite://$DIR/import.db")
$LOAD $B --paths "$DIR/search-paths.txt" --token "$COMMUNE_TOKEN" --concurrency 1 --duration 10 --label search-sequential-commune-scope
echo "server RSS after the runs: $(awk '/VmRSS/{print $2/1024 " MiB"}' /proc/$SERVER/status), peak $(awk '/VmHWM/{print $2/1024 " MiB"}' /proc/$SERVER/status)"
echo "database file: $(du -h "$DIR/import.db" | cut -f1)"
kill $SERVER 2>/dev/null || true
wait $SERVER 2>/dev/null || true
echo "== register point reads without HTTP (the same 20,000 PIDs; round 1 is cold)"
sed 's#/api/v1/people/##' "$DIR/pid-paths.txt" > "$DIR/pids.txt"
$READ "$DIR/import.db" "$DIR/pids.txt"
