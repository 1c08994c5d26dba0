#!/bin/sh
# One image runs every psc process; $SERVICE picks which (see deploy/Dockerfile, docker-compose.yml).
# Each branch execs, so node gets the container's signals directly (SIGTERM -> graceful stop).
set -eu
cd /app

# Resolved from /app, so the root package.json must depend on @psc/telemetry. Loaded before the
# service so the instrumentations patch koa, amqplib and pg before anything imports them.
register=@psc/telemetry/register

# SERVICE_EXTRA_FLAGS, then SERVICE_NODE_FLAGS (libs/testing/src/service-launch.ts): each
# service's young generation (16 MB for the two that answer concurrent reads, 8 MB for the
# sync-worker, which holds platform pages, 4 MB for the scheduler, 2 MB for the collector), the
# workers' bound on garbage between full collections (Buffers counted in V8's heap limits, a
# growth factor of 2) and the gateway's capped old generation,
# then young-generation collection on the main thread only, built JS and telemetry first.
# SERVICE_ENV (libs/testing/src/service-launch.ts): two malloc arenas, not eight per core, so
# buffers freed outside V8's heap do not stay resident across many arenas.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"

case "${SERVICE:-}" in
  gateway) extra="--max-old-space-size=128 --max-semi-space-size=16" ;;
  platform-registry) extra="--max-semi-space-size=16" ;;
  sync-worker)
    extra="--max-semi-space-size=8 --external-memory-accounted-in-global-limit --heap-growing-percent=100"
    ;;
  scheduler) extra="--max-semi-space-size=4" ;;
  collector)
    extra="--max-semi-space-size=2 --external-memory-accounted-in-global-limit --heap-growing-percent=100"
    ;;
  *) extra="--max-semi-space-size=2" ;;
esac

case "${SERVICE:-}" in
  gateway | platform-registry | scheduler | sync-worker | collector)
    # shellcheck disable=SC2086 # $extra is one or two flags, split on purpose
    exec node $extra --no-parallel-scavenge --conditions=psc-dist --import "$register" \
      "services/$SERVICE/dist/src/main.js"
    ;;
  provision)
    # Gives every service its own RabbitMQ user and PostgreSQL login (docs/DEPLOY.md, "Broker
    # users", "Database logins"): the one psc process that holds administrators' logins, run once
    # before the services start. The passwords must all come from the environment.
    node --conditions=psc-dist scripts/broker-users.ts --require-passwords
    exec node --conditions=psc-dist scripts/db-roles.ts --require-passwords
    ;;
  demo-platform)
    exec node scripts/demo-platform.ts
    ;;
  *)
    echo "entrypoint: set SERVICE to one of gateway, platform-registry, scheduler, sync-worker," \
      "collector, provision, demo-platform (got '${SERVICE:-}')" >&2
    exit 64
    ;;
esac
