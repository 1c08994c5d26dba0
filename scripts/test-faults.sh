#!/usr/bin/env bash
# `npm run test:faults`: the fault suite (test/faults/). Each test breaks its own part of psc as
# an operator would — kill -9, SIGSTOP, closed connections, ended backends, a database or broker
# link cut through a TCP proxy of its own, a deleted queue, a queue refusing publishes, a
# connection limit — on its own vhost and database, and checks nothing was lost, done twice or
# left stuck, within a stated recovery time. The shared
# RabbitMQ and PostgreSQL servers are never stopped. One file at a time: the bounds are timings.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-install.sh
export PATH="$PWD/node_modules/.bin:$PATH"
test "$(node -v)" = "v24.21.0" || { echo "expected Node v24.21.0, got $(node -v)" >&2; exit 1; }
echo "== build"
node scripts/build.ts
echo "== fault tests"
exec node --test --test-reporter=spec --test-concurrency=1 --test-timeout=600000 --test-force-exit \
  'test/faults/**/*.test.ts' "$@"
