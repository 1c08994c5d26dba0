import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, waitFor } from '@psc/testing';
import { parse as parseYaml } from 'yaml';
import { brokerUsers } from '@psc/contracts';
import { dbRole, passwordVariable } from '../../scripts/login-passwords.ts';
import { SECRET_VARIABLES, SERVICES, secretsReadBy } from './support/service-secrets.ts';
import { ROOT, onPath, run } from './support/tools.ts';
import { DEMO_PLATFORM_PORT } from '../../scripts/demo-platform-port.ts';

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
}
const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as { services: Record<string, ComposeService> };
const services = compose.services;

/** `host:container[:ro]` volume entries of a service, as {host, container}. */
const mounts = (service: ComposeService) =>
  (service.volumes ?? []).map((entry) => {
    const [host, container] = entry.split(':');
    return { host: host!, container: container! };
  });

/** The psc service a compose service runs (collector-children: collector). */
const runs = (name: string) => services[name]?.environment?.['SERVICE'] ?? name;
const isPsc = (name: string) => SERVICES.includes(runs(name) as never);
/** `${VAR:?…}` as compose writes a required variable. */
const required = (variable: string) => `\\$\\{${variable}:\\?[^}]+\\}`;

describe('docker-compose.yml', () => {
  it('when compose publishes a port, then it is bound to 127.0.0.1', () => {
    const published = Object.entries(services).flatMap(([name, s]) =>
      (s.ports ?? []).map((port) => ({ name, port })),
    );
    assert.ok(
      published.length >= 7,
      'gateway, rabbitmq (2), postgres, jaeger, prometheus, grafana',
    );
    for (const { name, port } of published)
      assert.match(port, /^127\.0\.0\.1:/, `${name}: ${port}`);
  });

  it('when compose passes secrets, then each psc service gets exactly those its config.ts reads', () => {
    // A compose service runs the psc service its SERVICE names (collector-children: collector).
    for (const service of SERVICES) assert.equal(runs(service), service);
    for (const name of Object.keys(services).filter(isPsc)) {
      const given = SECRET_VARIABLES.filter((v) => v in (services[name]!.environment ?? {}));
      assert.deepEqual(given, secretsReadBy(runs(name) as (typeof SERVICES)[number]), name);
    }
    // The demo platform registers itself with the admin key and Prometheus scrapes the gateway's
    // /metrics with it; provision makes the broker users through the management API; no other
    // infrastructure gets any secret.
    const needs: Record<string, string[]> = {
      'demo-platform': ['PSC_ADMIN_API_KEY'],
      prometheus: ['PSC_ADMIN_API_KEY'],
      provision: ['RABBITMQ_MANAGEMENT_URL'],
    };
    for (const [name, s] of Object.entries(services).filter(([n]) => !isPsc(n))) {
      const given = SECRET_VARIABLES.filter((v) => v in (s.environment ?? {}));
      assert.deepEqual(given, needs[name] ?? [], name);
    }
    // (Its login is the gateway's own, checked below.)
    assert.match(services.gateway!.environment!['RABBITMQ_MANAGEMENT_URL']!, /@rabbitmq:15672$/);
    assert.ok('rabbitmq' in services);
  });

  it("when compose starts the services, then each runs under its own broker user and database login, made by provision before any starts, and only provision holds the administrators' logins", () => {
    const provision = services.provision!;
    assert.equal(provision.environment?.['SERVICE'], 'provision');
    for (const infra of ['rabbitmq', 'postgres']) {
      assert.equal(provision.depends_on?.[infra]?.condition, 'service_healthy', infra);
    }
    const usersOf = new Map(brokerUsers().map((u) => [u.service, u.user]));
    const pscNames = Object.keys(services).filter(isPsc);
    assert.ok(pscNames.length >= SERVICES.length);
    for (const name of pscNames) {
      const service = runs(name) as (typeof SERVICES)[number];
      const env = services[name]!.environment!;
      const broker = passwordVariable('BROKER', service);
      const db = passwordVariable('DB', service);
      assert.match(
        env['AMQP_URL']!,
        new RegExp(`^amqp://${usersOf.get(service)}:${required(broker)}@rabbitmq:5672$`),
        name,
      );
      assert.match(
        env['DATABASE_URL']!,
        new RegExp(`^postgres://${dbRole(service)}:${required(db)}@postgres:5432/psc$`),
        name,
      );
      // provision gets every password the services use.
      assert.match(provision.environment[broker]!, new RegExp(`^${required(broker)}$`));
      assert.match(provision.environment[db]!, new RegExp(`^${required(db)}$`));
      assert.equal(
        services[name]!.depends_on?.['provision']?.condition,
        'service_completed_successfully',
        name,
      );
    }
    assert.match(
      services.gateway!.environment!['RABBITMQ_MANAGEMENT_URL']!,
      new RegExp(
        `^http://psc-gateway:${required(passwordVariable('BROKER', 'gateway'))}@rabbitmq:15672$`,
      ),
    );
    // The administrators' logins (the images' guest, postgres's psc) appear in provision only.
    for (const [name, s] of Object.entries(services)) {
      const admin = Object.values(s.environment ?? {}).filter((v) =>
        /guest:guest@|psc:psc@/.test(String(v)),
      );
      if (name === 'provision') assert.equal(admin.length, 2, 'the management API and PostgreSQL');
      else assert.deepEqual(admin, [], name);
    }
  });

  it('when `npm run compose-env` writes .env, then every variable compose requires is set, passwords fit a URL, a second run changes nothing, and no value is printed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'psc-compose-env-'));
    const file = join(dir, '.env');
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('PSC_')),
    );
    const write = () =>
      run(process.execPath, ['--conditions=psc-dist', 'scripts/compose-env.ts', '--file', file], {
        env,
      });
    try {
      const first = await write();
      assert.equal(first.code, 0, first.stderr);
      const text = await readFile(file, 'utf8');
      const values = new Map(
        text
          .trim()
          .split('\n')
          .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
      );
      const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
      const requiredNames = new Set(
        [...compose.matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((m) => m[1]!),
      );
      assert.ok(requiredNames.size >= 13, [...requiredNames].join());
      for (const name of requiredNames) assert.ok(values.get(name), `${name} set`);
      for (const [name, value] of values) {
        if (name.includes('_PASSWORD_')) assert.match(value, /^[0-9a-f]{48}$/, name);
        assert.ok(!first.stdout.includes(value), `${name}'s value printed`);
      }
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      const second = await write();
      assert.equal(second.code, 0, second.stderr);
      assert.equal(await readFile(file, 'utf8'), text);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when Prometheus and Grafana start, then they load deploy/prometheus and deploy/grafana and find each other', () => {
    const prometheus = services.prometheus!;
    const config = mounts(prometheus).find((m) => m.container === '/etc/prometheus');
    assert.equal(config?.host, './deploy/prometheus');
    assert.ok(prometheus.command?.includes('--config.file=/etc/prometheus/prometheus.yml'));

    const scrape = parseYaml(
      readFileSync(join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8'),
    ) as {
      scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; port: number }[] }[];
    };
    const psc = scrape.scrape_configs.find((job) => job.job_name === 'psc')!;
    const gateway = scrape.scrape_configs.find((job) => job.job_name === 'psc-gateway')!;
    assert.deepEqual(
      [...psc.dns_sd_configs![0]!.names, ...gateway.dns_sd_configs![0]!.names].sort(),
      [...SERVICES].sort(),
    );
    assert.equal(String(psc.dns_sd_configs![0]!.port), services.gateway!.environment!['HTTP_PORT']);

    const grafana = mounts(services.grafana!);
    const provisioning = grafana.find((m) => m.container === '/etc/grafana/provisioning');
    assert.equal(provisioning?.host, './deploy/grafana/provisioning');
    const provider = parseYaml(
      readFileSync(join(ROOT, 'deploy/grafana/provisioning/dashboards/psc.yml'), 'utf8'),
    ) as { providers: { options: { path: string } }[] };
    const dashboards = grafana.find((m) => m.container === provider.providers[0]!.options.path);
    assert.equal(dashboards?.host, './deploy/grafana/dashboards');
    for (const { host } of [...grafana, ...mounts(prometheus)].filter((m) =>
      m.host.startsWith('.'),
    )) {
      assert.ok(existsSync(join(ROOT, host)), host);
    }
    const datasource = parseYaml(
      readFileSync(join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    ) as { datasources: { url: string }[] };
    assert.equal(datasource.datasources[0]!.url, 'http://prometheus:9090');
  });

  describe('the demo platform healthcheck', () => {
    let demo: ReturnType<typeof spawn> | undefined;
    after(async () => {
      if (demo && demo.exitCode === null) {
        demo.kill('SIGTERM');
        await once(demo, 'exit');
      }
    });

    it('when the demo platform runs as compose configures it (port 9400, off Prometheus’s 9090), then the image healthcheck on /health reports it healthy', async () => {
      const env = services['demo-platform']!.environment!;
      assert.equal(
        services['demo-platform']!.healthcheck,
        undefined,
        'the image HEALTHCHECK applies',
      );
      const port = await freePort();
      // Loopback instead of the container's 0.0.0.0, and no registration at a gateway.
      demo = spawn(process.execPath, ['scripts/demo-platform.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, DEMO_PLATFORM_PORT: String(port), HTTP_HOST: '127.0.0.1' },
        stdio: 'ignore',
      });
      const healthcheck = (path: string | undefined) =>
        run(process.execPath, ['deploy/healthcheck.mjs'], {
          env: {
            PATH: process.env.PATH,
            HEALTHCHECK_PORT: String(port),
            ...(path === undefined ? {} : { HEALTHCHECK_PATH: path }),
          },
        });

      assert.equal(env['HEALTHCHECK_PATH'], undefined, 'the default path, /health');
      await waitFor(async () => (await healthcheck(undefined)).code === 0, {
        timeoutMs: 30_000,
        message: 'healthcheck of the demo platform on /health',
      });
      assert.equal(env['DEMO_PLATFORM_PORT'], String(DEMO_PLATFORM_PORT));
      assert.equal(env['HEALTHCHECK_PORT'], String(DEMO_PLATFORM_PORT));
    });
  });

  it('when a docker client with the compose plugin is present, then `docker compose config` accepts the file', async (t) => {
    const docker = onPath('docker');
    if (!docker) {
      t.diagnostic('no docker client on PATH: `docker compose config` not run');
      return;
    }
    const version = await run(docker, ['compose', 'version']);
    if (version.code !== 0) {
      // Only a missing plugin excuses the check; any other failure of the tool fails the test.
      assert.match(version.stdout + version.stderr, /unknown command|is not a docker command/);
      t.diagnostic('the docker client has no compose plugin: `docker compose config` not run');
      return;
    }
    // With the .env that `npm run compose-env` writes.
    const dir = await mkdtemp(join(tmpdir(), 'psc-compose-config-'));
    try {
      const envFile = join(dir, '.env');
      const written = await run(process.execPath, [
        '--conditions=psc-dist',
        'scripts/compose-env.ts',
        '--file',
        envFile,
      ]);
      assert.equal(written.code, 0, written.stderr);
      const checked = await run(docker, [
        'compose',
        '--file',
        'docker-compose.yml',
        '--env-file',
        envFile,
        'config',
        '--quiet',
      ]);
      assert.equal(checked.code, 0, checked.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
