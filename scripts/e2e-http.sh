#!/usr/bin/env bash
# End-to-end checks of the HTTP server (feature `http`) with the real tools:
#   1. `promtool check metrics` accepts the /metrics exposition;
#   2. a real Prometheus on loopback scrapes the example host every second,
#      and its query API returns monitor_executions_total equal to stats();
#   3. headless Chromium loads the dashboard: the DOM shows the example's
#      function names, and a screenshot is saved.
# Installs prometheus, chromium, curl and python3 with apt-get when missing.
# Exit status: 0 passed, 3 the tools could not be installed (skipped),
# anything else a failure. Artifacts (exposition, DOM, screenshot, logs)
# go to target/e2e-http/. Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
ARTIFACTS=target/e2e-http
rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"

have() { command -v "$1" >/dev/null 2>&1; }
chromium_bin() {
    for candidate in chromium chromium-browser; do
        if have "$candidate"; then echo "$candidate"; return 0; fi
    done
    return 1
}
tools_present() { have promtool && have prometheus && have curl && have python3 && chromium_bin >/dev/null; }

if ! tools_present; then
    echo "e2e-http: installing prometheus, chromium, curl, python3 with apt-get"
    if ! have apt-get \
        || ! apt-get update >"$ARTIFACTS/apt.log" 2>&1 \
        || ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            prometheus chromium curl python3 >>"$ARTIFACTS/apt.log" 2>&1; then
        echo "e2e-http: cannot install the tools (see $ARTIFACTS/apt.log)"
        exit 3
    fi
    tools_present || { echo "e2e-http: tools still missing after apt-get"; exit 3; }
fi
CHROMIUM=$(chromium_bin)

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

fail() { echo "e2e-http: FAILED: $*"; exit 1; }

echo "== building the example host"
cargo build --quiet --example http_dashboard --features http
./target/debug/examples/http_dashboard --serve-seconds 600 \
    --log-dir "$ARTIFACTS/monitor-logs" >"$ARTIFACTS/example.out" 2>"$ARTIFACTS/example.err" &
PIDS+=($!)
for _ in $(seq 1 120); do
    grep -q '^stats ' "$ARTIFACTS/example.out" && break
    sleep 0.5
done
grep -q '^stats ' "$ARTIFACTS/example.out" || fail "the example did not start: $(cat "$ARTIFACTS/example.err")"
URL=$(sed -n 's/^listening on \(http:\/\/[^ ]*\)$/\1/p' "$ARTIFACTS/example.out")
HOSTPORT=${URL#http://}
HOSTPORT=${HOSTPORT%/}
sed -n 's/^stats //p' "$ARTIFACTS/example.out" >"$ARTIFACTS/stats.json"
echo "example host at $URL, stats $(cat "$ARTIFACTS/stats.json")"

echo "== promtool check metrics"
curl -fsS "${URL}metrics" >"$ARTIFACTS/metrics.txt"
promtool check metrics <"$ARTIFACTS/metrics.txt" || fail "promtool rejected the exposition"
curl -fsS -H 'Accept: application/openmetrics-text; version=1.0.0' "${URL}metrics" >"$ARTIFACTS/metrics.openmetrics.txt"
tail -n 1 "$ARTIFACTS/metrics.openmetrics.txt" | grep -qx '# EOF' || fail "OpenMetrics exposition without # EOF"
echo "promtool: ok"

echo "== Prometheus scraping the example every second"
PROM_PORT=""
for port in $(seq 19090 19190); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then PROM_PORT=$port; break; fi
done
[ -n "$PROM_PORT" ] || fail "no free port for Prometheus"
cat >"$ARTIFACTS/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: monitor-example
    static_configs:
      - targets: ["$HOSTPORT"]
YAML
prometheus --config.file="$ARTIFACTS/prometheus.yml" \
    --storage.tsdb.path="$ARTIFACTS/prometheus-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$ARTIFACTS/prometheus.log" 2>&1 &
PIDS+=($!)
QUERY='sum by (function) (monitor_executions_total{status!="cancelled"})'
matched=""
for _ in $(seq 1 90); do
    if curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$QUERY" \
        >"$ARTIFACTS/query.json" 2>/dev/null \
        && python3 - "$ARTIFACTS/stats.json" "$ARTIFACTS/query.json" <<'PY'
import json, sys
expected = json.load(open(sys.argv[1]))
answer = json.load(open(sys.argv[2]))
got = {r["metric"]["function"]: int(float(r["value"][1])) for r in answer["data"]["result"]}
sys.exit(0 if got == expected and expected else 1)
PY
    then
        matched=yes
        break
    fi
    sleep 1
done
[ -n "$matched" ] || fail "Prometheus never returned the stats; last answer: $(cat "$ARTIFACTS/query.json" 2>/dev/null)"
echo "Prometheus: monitor_executions_total equals stats(): $(cat "$ARTIFACTS/stats.json")"

echo "== headless Chromium on the dashboard"
CHROME_FLAGS=(--headless --no-sandbox --disable-gpu --disable-background-networking
    --disable-dev-shm-usage --no-first-run --user-data-dir="$ARTIFACTS/chromium-profile")
timeout 120 "$CHROMIUM" "${CHROME_FLAGS[@]}" --dump-dom "$URL" >"$ARTIFACTS/dashboard.dom.html" 2>"$ARTIFACTS/chromium.log" \
    || fail "chromium --dump-dom failed (see $ARTIFACTS/chromium.log)"
python3 - "$ARTIFACTS/stats.json" "$ARTIFACTS/dashboard.dom.html" <<'PY' || fail "the dashboard does not show every function"
import json, sys
names = json.load(open(sys.argv[1]))
dom = open(sys.argv[2]).read()
missing = [name for name in names if name not in dom]
print("dashboard shows:", ", ".join(names) if not missing else "MISSING " + ", ".join(missing))
sys.exit(1 if missing else 0)
PY
timeout 120 "$CHROMIUM" "${CHROME_FLAGS[@]}" --hide-scrollbars --window-size=1280,720 \
    --screenshot="$PWD/$ARTIFACTS/dashboard.png" "$URL" >>"$ARTIFACTS/chromium.log" 2>&1 \
    || fail "chromium --screenshot failed (see $ARTIFACTS/chromium.log)"
[ -s "$ARTIFACTS/dashboard.png" ] || fail "no screenshot"
echo "screenshot: $ARTIFACTS/dashboard.png"
echo "e2e-http: all passed"
