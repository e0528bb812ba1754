#!/usr/bin/env bash
# Runs the whole test suite, as CI does. Tests start what they need themselves (a PostgreSQL server from the
# machine's binaries, Mosquitto brokers, simulated nodes on loopback); this script only makes sure those binaries
# are installed.
set -euo pipefail
cd "$(dirname "$0")"

need_pkg() { dpkg -s "$1" >/dev/null 2>&1; }
missing=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
[ -x /usr/bin/prometheus-alertmanager ] || missing+=(prometheus-alertmanager)   # the alert delivery tests post to a real one
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)   # another process holding the database's lock
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)   # checks the shipped unit file
command -v openssl >/dev/null 2>&1 || missing+=(openssl)   # the MQTT TLS tests make a CA and a certificate
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)   # scrapes /metrics; promtool checks a scrape
command -v chromium >/dev/null 2>&1 || missing+=(chromium)   # renders /docs; the dashboard's browser tests (Playwright drives it)
command -v npm >/dev/null 2>&1 || missing+=(npm)   # installs the OpenAPI linter (@redocly/cli) into ~/.cache/isems-tests
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing ${missing[*]} for the tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "The tests need: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
dotnet test Isems.Actors.sln --nologo "$@" 2>&1 | tee "$log" || status=$?

# One closing line for the whole suite, summed over the test assemblies.
awk '/(Passed|Failed)! +- +Failed:/ {
       for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     }
     END { gsub(",", "", p); printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit $status
