#!/bin/sh
# bench/run.sh — every figure docs/BENCHMARKS.md records, in one run on one
# machine, so they compare side by side. Root-only benchmarks (sandboxes,
# networks, volumes) skip with a message when not root.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
BIN=${NIMBUS_BIN:-bin/nimbus}
[ -x "$BIN" ] || $GO build -o "$BIN" ./cmd/nimbus

echo "== host"
echo "$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"

echo "== edge: real binary, aws-sdk-go-v2 clients and replayed signed requests"
$GO run ./bench/edge -bin "$BIN" -duration "${DURATION:-10s}" -concurrency 32

echo "== codecs, SigV4, store (Go benchmarks)"
$GO test -run '^$' -benchmem -bench . -benchtime "${BENCHTIME:-2s}" \
	./internal/protocol/query ./internal/protocol/jsonrpc ./internal/protocol/rest ./internal/sigv4 \
	./internal/edge 2>&1 | grep -E '^(Benchmark|ok|FAIL)'
$GO test -run '^$' -bench 'BenchmarkStore$' -benchtime 1x ./internal/store/sqlitestore 2>&1 | grep -E '^(Benchmark|ok|FAIL)'

echo "== substrate (root: runc, CNI, loop devices)"
$GO test -run '^$' -bench 'BenchmarkNimbusOverhead|BenchmarkIdleSandboxMemory' -benchtime 20x ./internal/sandbox/oci 2>&1 | grep -E '^(Benchmark|ok|FAIL|\s+bench)' || true
$GO test -run '^$' -bench 'BenchmarkRunTrue' -benchtime 20x ./internal/substrate 2>&1 | grep -E '^(Benchmark|ok|FAIL)' || true
$GO test -run '^$' -bench 'BenchmarkAttachDetach' -benchtime 20x ./internal/network 2>&1 | grep -E '^(Benchmark|ok|FAIL)' || true
$GO test -run '^$' -bench . -benchtime 10x ./internal/volume 2>&1 | grep -E '^(Benchmark|ok|FAIL)' || true

echo "== lambda: real binary on runc, Invoke through aws-sdk-go-v2 with SigV4 (root)"
$GO run ./bench/lambda -bin "$BIN" -cold "${LAMBDA_COLD:-15}" -warm "${LAMBDA_WARM:-1000}" || true
