#!/bin/sh
# One image runs every psc process; $SERVICE picks which (see deploy/Dockerfile, docker-compose.yml).
# Each branch execs, so node gets the container's signals directly (SIGTERM -> graceful stop).
set -eu
cd /app

# Resolved from /app, so the root package.json must depend on @psc/telemetry. Loaded before the
# service so the instrumentations patch koa, amqplib and pg before anything imports them.
register=@psc/telemetry/register

case "${SERVICE:-}" in
  gateway | platform-registry | scheduler | sync-worker | collector)
    exec node --import "$register" "services/$SERVICE/src/main.ts"
    ;;
  demo-platform)
    exec node scripts/demo-platform.ts
    ;;
  *)
    echo "entrypoint: set SERVICE to one of gateway, platform-registry, scheduler, sync-worker," \
      "collector, demo-platform (got '${SERVICE:-}')" >&2
    exit 64
    ;;
esac
