import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, waitFor } from '@psc/testing';
import { parse as parseYaml } from 'yaml';
import { SECRET_VARIABLES, SERVICES, secretsReadBy } from './support/service-secrets.ts';
import { ROOT, onPath, run } from './support/tools.ts';
import { DEMO_PLATFORM_PORT } from '../../scripts/demo-platform-port.ts';

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
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
    const runs = (name: string) => services[name]?.environment?.['SERVICE'] ?? name;
    const isPsc = (name: string) => SERVICES.includes(runs(name) as never);
    for (const service of SERVICES) assert.equal(runs(service), service);
    for (const name of Object.keys(services).filter(isPsc)) {
      const given = SECRET_VARIABLES.filter((v) => v in (services[name]!.environment ?? {}));
      assert.deepEqual(given, secretsReadBy(runs(name) as (typeof SERVICES)[number]), name);
    }
    // The demo platform registers itself with the admin key and Prometheus scrapes the gateway's
    // /metrics with it; no other infrastructure gets any secret.
    for (const [name, s] of Object.entries(services).filter(([n]) => !isPsc(n))) {
      const given = SECRET_VARIABLES.filter((v) => v in (s.environment ?? {}));
      const needsKey = name === 'demo-platform' || name === 'prometheus';
      assert.deepEqual(given, needsKey ? ['PSC_ADMIN_API_KEY'] : [], name);
    }
    const management = new URL(services.gateway!.environment!['RABBITMQ_MANAGEMENT_URL']!);
    assert.equal(management.hostname, 'rabbitmq');
    assert.ok('rabbitmq' in services);
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
    const checked = await run(
      docker,
      ['compose', '--file', 'docker-compose.yml', 'config', '--quiet'],
      {
        env: {
          ...process.env,
          PSC_SECRET_KEY: Buffer.alloc(32, 1).toString('base64'),
          PSC_WORKER_SECRET_KEY: Buffer.alloc(32, 2).toString('base64'),
          PSC_ADMIN_API_KEY: `psc_${'0'.repeat(48)}`,
        },
      },
    );
    assert.equal(checked.code, 0, checked.stderr);
  });
});
