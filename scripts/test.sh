#!/usr/bin/env bash
# `npm test`: typecheck, lint (eslint, prettier, import cycles, unused code), the OpenAPI document
# (generated client up to date, Redocly's recommended rules offline), then every unit and integration test on real RabbitMQ
# and PostgreSQL (AMQP_URL / DATABASE_URL, or testcontainers when Docker is there). With local
# servers, scripts/test-infra.ts first turns on RabbitMQ's management plugin if it is off.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-install.sh
export PATH="$PWD/node_modules/.bin:$PATH"
test "$(node -v)" = "v24.21.0" || { echo "expected Node v24.21.0, got $(node -v)" >&2; exit 1; }
quiet() { local out; out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }; }
# One command per line: under `set -e` a failure inside `a && b && c` stops nothing unless it is
# the last command of the list (a lint error once went through to a green run that way).
# First, so a missing management API stops the run before minutes of checks, not after.
echo "== test servers"
node scripts/test-infra.ts
echo "== typecheck"
tsc -p tsconfig.json
tsc -p libs/console
echo "== lint"
eslint .
prettier --check . >/dev/null
# Import cycles across every package (workspace imports resolved to their sources), and unused
# files, exports and dependencies (knip.json says what is an entry point).
quiet madge --circular --extensions ts,tsx --ts-config tsconfig.madge.json --no-spinner \
  libs services test bench scripts
knip --no-progress
echo "== openapi"
node scripts/api-client.ts --check
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true redocly lint --format=summary \
  libs/api-client/openapi.json
echo "== build"
node scripts/build.ts
echo "== alert rules"
command -v promtool >/dev/null ||
  { echo "promtool not found: apt-get -y install prometheus (.ci/run installs it)" >&2; exit 1; }
# promtool checks that the gateway's key file exists; compose writes the real one at start.
[ -e /tmp/psc-api-key ] || : >/tmp/psc-api-key
quiet promtool check config deploy/prometheus/prometheus.yml
quiet promtool check rules deploy/prometheus/rules/*.yml
quiet promtool test rules deploy/prometheus/tests/*.test.yml
echo "== tests"  # test/faults/ runs apart: npm run test:faults
exec node --test --test-reporter=spec --test-concurrency="${PSC_TEST_CONCURRENCY:-2}" \
  --test-timeout=180000 \
  'libs/*/test/**/*.test.ts' 'services/*/test/**/*.test.ts' 'test/!(faults)/**/*.test.ts' "$@"
