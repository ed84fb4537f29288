# Shared set-up of the bench/*.sh scripts (sourced, not run). Before sourcing, a script sets
# NAME (a short word for its directory and database); it may set BENCH_DIR and BENCH_POSTGRES.
# Afterwards: BACKEND (first argument, sqlite by default), DIR (empty), PG, BIN, LOAD (the load
# generator), URL (a fresh database of that backend), sql "<statement>" on it, and machine()
# printing the machine line.
cd "$(dirname "$0")/.."
BACKEND=${1:-sqlite}
DIR=${BENCH_DIR:-/tmp/civitas-bench-$NAME}
PG=${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
BIN=target/release/civitas
rm -rf "$DIR" && mkdir -p "$DIR"
cargo build --release --locked -q
cargo bench --bench http_load --no-run -q 2>/dev/null
LOAD=$(ls -t target/release/deps/http_load-* | grep -v '\.d$' | head -1)
if [ "$BACKEND" = postgres ]; then
  DB=civitas_bench_${NAME}_$$
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  URL="$PG/$DB"
  sql() { psql -qtA "$URL" -c "$1"; }
else
  URL="sqlite://$DIR/civitas.db"
  sql() { sqlite3 -cmd ".timeout 10000" "$DIR/civitas.db" "$1"; }
fi
machine() {
  echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(date -u +%F), backend $BACKEND"
}
