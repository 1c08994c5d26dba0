#!/usr/bin/env bash
# Installs dependencies (and with them Node 24 from the registry's `node` package) when missing
# or out of date, so `npm start` / `npm test` work on a fresh clone that only has Node 20 + npm.
set -euo pipefail
cd "$(dirname "$0")/.."
PNPM_VERSION=12.21.0
if [ -x node_modules/.bin/node ] && [ node_modules/.modules.yaml -nt pnpm-lock.yaml ] \
  && [ "$(node_modules/.bin/node -v)" = "v24.21.0" ]; then
  exit 0
fi
if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm -v 2>/dev/null)" = "$PNPM_VERSION" ]; then
  pnpm install --frozen-lockfile
else
  npx -y "pnpm@$PNPM_VERSION" install --frozen-lockfile
fi
touch node_modules/.modules.yaml
