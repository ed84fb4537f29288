#!/usr/bin/env bash
# The cost of the authorization policy layer (issue #12): the same load against the server
# built from a base commit and from the working tree, on one SQLite database.
# Usage: bench/policy.sh BASE_REV [PEOPLE]   (default 100,000 people)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:?base revision}
N=${2:-100000}
DIR=${BENCH_DIR:-/tmp/civitas-bench-policy}
mkdir -p "$DIR"
export CIVITAS_LOG=warn
if [ ! -x "$DIR/civitas-base" ] || [ "$(cat "$DIR/base-rev" 2>/dev/null)" != "$BASE" ]; then
  rm -rf "$DIR/base" && git worktree add -f "$DIR/base" "$BASE" -q
  (cd "$DIR/base" && CARGO_TARGET_DIR=/work/main/target cargo build --release --locked -q)
  cp target/release/civitas "$DIR/civitas-base"
  echo "$BASE" > "$DIR/base-rev"
  git worktree remove --force "$DIR/base"
fi
# The workspace crates of the base share names and versions with ours: rebuild ours.
cargo clean --release -q -p civitas -p civitas-core -p civitas-store -p civitas-registry -p civitas-identity \
  -p civitas-services -p civitas-docs -p civitas-web
cargo build --release --locked -q
cargo bench --bench http_load --no-run -q 2>/dev/null
cp target/release/civitas "$DIR/civitas-new"
LOAD=$(ls -t target/release/deps/http_load-* | grep -v '\.d$' | head -1)
"$DIR/civitas-new" generate --people "$N" --province 01 --seed 7 > "$DIR/people.ndjson"
python3 - "$DIR/people.ndjson" > "$DIR/pid-paths.txt" <<'PY'
import json, sys, random
random.seed(1)
pids = [json.loads(l)["pid"] for l in open(sys.argv[1])]
for p in random.sample(pids, 20000): print(f"/api/v1/people/{p}")
PY
for which in base new; do
  BIN="$DIR/civitas-$which"
  rm -f "$DIR"/db-$which.db*
  $BIN import "$DIR/people.ndjson" --database "sqlite://$DIR/db-$which.db" > /dev/null
  TOKEN=$($BIN token --role registry-officer --unit 01 --database "sqlite://$DIR/db-$which.db")
  $BIN serve --listen 127.0.0.1:18181 --database "sqlite://$DIR/db-$which.db" > "$DIR/serve-$which.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18181/healthz > /dev/null && break; sleep 0.1; done
  if [ "$which" = base ]; then label=$(git rev-parse --short "$BASE"); else label="$(git rev-parse --short HEAD)$(git diff --quiet || echo ' + working tree')"; fi
  echo "== $which ($label)"
  $LOAD --base http://127.0.0.1:18181 --path /healthz --concurrency 16 --duration 10 --label "$which-healthz"
  $LOAD --base http://127.0.0.1:18181 --paths "$DIR/pid-paths.txt" --token "$TOKEN" --concurrency 16 --duration 10 --label "$which-pid-lookup"
  $LOAD --base http://127.0.0.1:18181 --path /api/v1/procedures --concurrency 16 --duration 10 --label "$which-public-catalogue"
  kill "$PID"; wait "$PID" 2>/dev/null || true
done
