#!/usr/bin/env bash
# Identity figures of BENCHMARKS.md, all in one run on this machine:
#   raw primitives (Argon2id, ES256), client_credentials grants/s (civitas vs node-oidc-provider
#   in memory, same load generator), refresh grants/s, complete password sign-ins/s.
# Usage: bench/identity.sh [sqlite|postgres]   (needs node + npm for the comparison)
set -euo pipefail
NAME=identity
. "$(dirname "$0")/common.sh"
PORT=8811
NODE_PORT=3999
DURATION=${BENCH_SECONDS:-10}
cargo bench --bench primitives --no-run -q 2>/dev/null
PRIM=$(ls -t target/release/deps/primitives-* | grep -v '\.d$' | head -1)
(cd bench/node && npm install --no-audit --no-fund --silent)
machine
CIVITAS_LOG=warn CIVITAS_DEMO_PEOPLE=2000 $BIN serve --demo --database "$URL" --listen 127.0.0.1:$PORT > "$DIR/demo.txt" &
SERVER=$!
node bench/node/oidc-provider.mjs $NODE_PORT > "$DIR/node.txt" 2>&1 &
NODE=$!
trap 'kill $SERVER $NODE 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "TOKEN" "$DIR/demo.txt" 2>/dev/null && break; sleep 0.2; done
CITIZEN=$(grep -o 'citizens: *[0-9]\{12\}' "$DIR/demo.txt" | grep -o '[0-9]\{12\}')
BASE=http://127.0.0.1:$PORT

echo "== primitives (raw rates)"
$PRIM

echo "== client_credentials grants/s (closed loop, 32 connections, ${DURATION} s)"
$LOAD --base $BASE --path /oauth2/token --form "grant_type=client_credentials&scope=registry.read" \
  --basic demo-agency:demo-agency-secret-0123456789abcdef --concurrency 32 --duration "$DURATION" --label "civitas client_credentials"
$LOAD --base http://127.0.0.1:$NODE_PORT --path /token --form "grant_type=client_credentials&scope=registry.read" \
  --basic agency:agency-secret-0123456789abcdef012345 --concurrency 32 --duration "$DURATION" --label "node-oidc-provider client_credentials"

echo "== refresh grants/s (32 rotating chains, ${DURATION} s)"
$LOAD --base $BASE --prepare-refresh 32 --user "$CITIZEN:hoa-sen-vang-2026" \
  --basic demo-portal:demo-portal-secret-0123456789abcdef --redirect http://127.0.0.1:9/callback --out "$DIR/refresh.txt"
$LOAD --base $BASE --refresh-chain "$DIR/refresh.txt" --basic demo-portal:demo-portal-secret-0123456789abcdef \
  --duration "$DURATION" --label "civitas refresh_token (rotation)"

echo "== complete password sign-ins/s (form post → session + event, 8 connections, ${DURATION} s)"
CSRF=benchmark-csrf-token-0123456789
$LOAD --base $BASE --path /signin --form "pid=$CITIZEN&password=hoa-sen-vang-2026&csrf=$CSRF" \
  --header "cookie: civitas_csrf=$CSRF" --concurrency 8 --duration "$DURATION" --label "civitas password sign-in"
