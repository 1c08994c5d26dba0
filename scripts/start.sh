#!/usr/bin/env bash
# `npm start`: install if needed, then run all five services and the demo platform locally.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-install.sh
exec node_modules/.bin/node scripts/dev.ts "$@"
