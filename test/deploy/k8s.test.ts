import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  JOB_QUEUE_FOR_TASK,
  QUEUES,
  brokerUsers,
  type ServiceName,
} from '../../libs/contracts/src/index.ts';
import { dbRole, passwordVariable } from '../../scripts/login-passwords.ts';
import {
  type Container as PodContainer,
  type PodSpec,
  containersOf,
  loginIn,
  podSpecOf,
  referencedVariables,
  secretKeys,
  secretReads,
  secretsNamedBy,
  sourceSecretName,
} from './support/k8s-pods.ts';
import { manifestRef, validateManifest } from './support/k8s-validate.ts';
import { kustomizeBuild, type Manifest } from './support/kustomize.ts';
import { SECRET_VARIABLES, SERVICES, secretsReadBy } from './support/service-secrets.ts';

const BASE = 'deploy/k8s/base';
const OVERLAY = 'deploy/k8s/overlays/example';
/** The Secret of every service's broker and database passwords (the provision Job's too). */
const LOGINS = 'psc-logins';
/** The operators' Secrets of administrators' logins (and the database owner's). */
const ADMIN_SECRETS = ['psc-rabbitmq-default-user', 'psc-postgres-superuser', 'psc-postgres-app'];

interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container extends PodContainer {
  livenessProbe?: Probe;
  readinessProbe?: Probe;
}
interface Deployment extends Manifest {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { spec: PodSpec & { containers: Container[] } };
  };
}

const byKind = <T extends Manifest>(docs: Manifest[], kind: string) =>
  docs.filter((doc) => doc.kind === kind) as T[];
const serviceOf = (doc: Manifest) => doc.metadata.name.replace(/^psc-/, '');
/** The service a Deployment runs (its image's SERVICE): stage 2 of the collector is a collector. */
const runs = (d: Deployment) =>
  d.spec.template.spec.containers[0]?.env?.find((e) => e.name === 'SERVICE')?.value;
/** Deployments beyond one per service, by name: the collector's fan-out stage scales apart. */
const EXTRA_DEPLOYMENTS: Record<string, (typeof SERVICES)[number]> = {
  'collector-children': 'collector',
};

/** A copy of `doc` with the field at a `/`-separated path set to `value` (deleted if undefined). */
function withField(doc: Manifest, path: string, value: unknown): Manifest {
  const copy = structuredClone(doc) as Record<string, unknown>;
  const keys = path.split('/').filter(Boolean);
  const last = keys.pop()!;
  let node = copy;
  for (const key of keys) node = node[key] as Record<string, unknown>;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy as Manifest;
}

describe('deploy/k8s', () => {
  const rendered = new Map<string, Manifest[]>();
  before(async () => {
    for (const dir of [BASE, OVERLAY]) rendered.set(dir, await kustomizeBuild(dir));
  });
  const overlay = () => rendered.get(OVERLAY)!;

  it('when kustomize builds the base and the example overlay, then every document validates against its schema', async () => {
    for (const [dir, docs] of rendered) {
      const kinds = new Set(docs.map((doc) => `${doc.apiVersion} ${doc.kind}`));
      for (const expected of [
        'apps/v1 Deployment',
        'policy/v1 PodDisruptionBudget',
        'keda.sh/v1alpha1 ScaledObject',
        'rabbitmq.com/v1beta1 RabbitmqCluster',
        'postgresql.cnpg.io/v1 Cluster',
        'batch/v1 Job',
      ]) {
        assert.ok(kinds.has(expected), `${dir}: ${expected}`);
      }
      const invalid = [];
      for (const doc of docs) {
        const errors = await validateManifest(doc);
        if (errors.length > 0) invalid.push({ doc: manifestRef(doc), errors });
      }
      assert.deepEqual(invalid, [], dir);
    }
  });

  it('when a manifest is broken, then the validator reports it', async () => {
    const docs = overlay();
    const gateway = byKind<Deployment>(docs, 'Deployment').find((d) => serviceOf(d) === 'gateway')!;
    const scaled = byKind(docs, 'ScaledObject')[0]!;
    const rabbit = byKind(docs, 'RabbitmqCluster')[0]!;
    const postgres = byKind(docs, 'Cluster')[0]!;
    const job = byKind(docs, 'Job')[0]!;
    const containers = '/spec/template/spec/containers/0';
    const broken: [string, Manifest, string, unknown, RegExp][] = [
      [
        'a misspelt probe',
        gateway,
        `${containers}/livenesProbe`,
        { periodSeconds: 5 },
        /unknown field .*\/livenesProbe$/,
      ],
      ['replicas as text', gateway, '/spec/replicas', 'three', /replicas must be integer/],
      [
        'an unknown pull policy',
        gateway,
        `${containers}/imagePullPolicy`,
        'Sometimes',
        /imagePullPolicy must be equal to one of the allowed values/,
      ],
      [
        'a memory limit that is no quantity',
        gateway,
        `${containers}/resources/limits/memory`,
        'lots',
        /memory must match format "quantity"/,
      ],
      [
        'a container without a name',
        gateway,
        `${containers}/name`,
        undefined,
        /containers\/0 must have required property '?name'?/,
      ],
      [
        'a misspelt label map',
        gateway,
        '/metadata/lables',
        { a: 'b' },
        /unknown field \/metadata\/lables$/,
      ],
      [
        'a misspelt Job field',
        job,
        '/spec/ttlSecondsAfterFinish',
        600,
        /unknown field \/spec\/ttlSecondsAfterFinish$/,
      ],
      [
        'a KEDA field that does not exist',
        scaled,
        '/spec/maxReplicas',
        3,
        /unknown field \/spec\/maxReplicas$/,
      ],
      [
        'a RabbitmqCluster field that does not exist',
        rabbit,
        '/spec/replica',
        3,
        /unknown field \/spec\/replica$/,
      ],
      [
        'a RabbitmqCluster storage that is no quantity',
        rabbit,
        '/spec/persistence/storage',
        '10 gigs',
        /persistence\/storage/,
      ],
      [
        'a PostgreSQL cluster of no instances',
        postgres,
        '/spec/instances',
        0,
        /instances must be >= 1/,
      ],
      [
        'both an image and an image catalog',
        postgres,
        '/spec/imageCatalogRef',
        { kind: 'ImageCatalog', major: 15, name: 'pg' },
        /must not set imageName and imageCatalogRef together/,
      ],
      [
        'a kind without a schema',
        gateway,
        '/kind',
        'Deploymnt',
        /no schema for apps\/v1 Deploymnt/,
      ],
    ];
    for (const [what, original, path, value, expected] of broken) {
      const errors = await validateManifest(withField(original, path, value));
      assert.ok(
        errors.some((error) => expected.test(error)),
        `${what}: expected ${expected}, got ${JSON.stringify(errors)}`,
      );
    }
  });

  it('when the services are deployed, then each has a Deployment with /health liveness, /ready readiness, resources and a PodDisruptionBudget', () => {
    const docs = overlay();
    const deployments = byKind<Deployment>(docs, 'Deployment');
    assert.deepEqual(
      deployments.map(serviceOf).sort(),
      [...SERVICES, ...Object.keys(EXTRA_DEPLOYMENTS)].sort(),
    );
    for (const deployment of deployments) {
      const name = serviceOf(deployment);
      const [container, ...others] = deployment.spec.template.spec.containers;
      assert.equal(others.length, 0, name);
      assert.equal(runs(deployment), EXTRA_DEPLOYMENTS[name] ?? name);
      assert.equal(container!.livenessProbe?.httpGet?.path, '/health', name);
      assert.equal(container!.readinessProbe?.httpGet?.path, '/ready', name);
      assert.ok(
        container!.resources?.requests?.['cpu'] && container!.resources.requests['memory'],
        name,
      );
      assert.ok(container!.resources?.limits?.['memory'], name);
      const budget = byKind<Manifest & { spec: { selector: { matchLabels: object } } }>(
        docs,
        'PodDisruptionBudget',
      ).find((pdb) => serviceOf(pdb) === name);
      assert.deepEqual(
        budget?.spec.selector.matchLabels,
        deployment.spec.selector.matchLabels,
        name,
      );
    }
  });

  it('when jobs queue up, then KEDA scales the sync-worker and each collector stage on its own queue, and nothing else', () => {
    const docs = overlay();
    const scaled = byKind<
      Manifest & {
        spec: {
          scaleTargetRef: { name: string };
          minReplicaCount: number;
          triggers: {
            type: string;
            metadata: Record<string, string>;
            authenticationRef?: { name: string };
          }[];
        };
      }
    >(docs, 'ScaledObject');
    const queues = Object.fromEntries(
      scaled.map((s) => [
        s.spec.scaleTargetRef.name,
        s.spec.triggers.map((t) => t.metadata['queueName']),
      ]),
    );
    assert.deepEqual(queues, {
      'psc-sync-worker': [JOB_QUEUE_FOR_TASK.sync],
      'psc-collector': [JOB_QUEUE_FOR_TASK.collect],
      'psc-collector-children': [QUEUES.collectorChildren],
    });
    assert.equal(QUEUES.syncJobs, 'sync-worker.jobs');
    const auth = new Set(byKind(docs, 'TriggerAuthentication').map((a) => a.metadata.name));
    for (const s of scaled) {
      // Both also answer RPCs for the gateway, so they never scale to zero.
      assert.ok(s.spec.minReplicaCount >= 1, s.metadata.name);
      for (const trigger of s.spec.triggers) {
        assert.equal(trigger.type, 'rabbitmq');
        assert.equal(trigger.metadata['mode'], 'QueueLength');
        assert.ok(auth.has(trigger.authenticationRef?.name ?? ''), 'authentication exists');
      }
      const target = byKind<Deployment>(docs, 'Deployment').find(
        (d) => d.metadata.name === s.spec.scaleTargetRef.name,
      );
      assert.equal(
        target?.spec.replicas,
        undefined,
        `${s.metadata.name}: KEDA owns the replica count`,
      );
    }
  });

  it('when secrets reach the pods, then each service gets only the secrets its config.ts reads and its own two passwords, from Secret objects', () => {
    const docs = overlay();
    const secrets = byKind(docs, 'Secret');
    const secretNames = new Set(secrets.map((s) => s.metadata.name));
    const source = sourceSecretName(secrets);
    for (const deployment of byKind<Deployment>(docs, 'Deployment')) {
      const service = runs(deployment) as ServiceName;
      const container = deployment.spec.template.spec.containers[0]!;
      const env = container.env ?? [];
      const given = SECRET_VARIABLES.filter((name) => env.some((e) => e.name === name));
      assert.deepEqual(given, secretsReadBy(service), service);
      // envFrom would hand over a whole Secret, with whatever keys it gains later.
      assert.equal(container.envFrom, undefined, `${service}: no envFrom`);
      for (const variable of env) {
        assert.ok(
          !variable.value ||
            !/:\/\/[^/$]*:[^/$]*@/.test(variable.value) ||
            variable.value.includes('$('),
          `${service}: ${variable.name} has no literal credentials`,
        );
      }
      const logins: string[] = [];
      for (const read of secretReads(container, secrets)) {
        // Secrets the deployment makes, never an operator's administrator's login.
        assert.ok(secretNames.has(read.secret), `${service}: ${read.secret}`);
        const name = source(read.secret);
        if (name === LOGINS) logins.push(`${read.variable}=${read.key}`);
        // A service's own Secret is named after it; no service reads another's.
        else assert.equal(name, `psc-${service}`, service);
      }
      assert.deepEqual(
        logins.sort(),
        [
          `PSC_BROKER_PASSWORD=${passwordVariable('BROKER', service)}`,
          `PSC_DB_PASSWORD=${passwordVariable('DB', service)}`,
        ],
        `${service}: its own keys of ${LOGINS}`,
      );
    }
  });

  it('when the services connect, then each logs into RabbitMQ as psc-<service> and PostgreSQL as psc_<service>, with its own passwords', () => {
    const docs = overlay();
    const source = sourceSecretName(byKind(docs, 'Secret'));
    // The operators name their Services after the clusters.
    const broker = byKind(docs, 'RabbitmqCluster')[0]!.metadata.name;
    const postgres = byKind<Manifest & { spec: { bootstrap: { initdb: { database: string } } } }>(
      docs,
      'Cluster',
    )[0]!;
    const users = new Map(brokerUsers().map((u) => [u.service, u.user]));
    const deployments = byKind<Deployment>(docs, 'Deployment');
    assert.deepEqual(new Set(deployments.map(runs)), new Set(SERVICES));
    for (const deployment of deployments) {
      const service = runs(deployment) as ServiceName;
      const name = deployment.metadata.name;
      const env = deployment.spec.template.spec.containers[0]!.env ?? [];
      const brokerPassword = `${LOGINS}/${passwordVariable('BROKER', service)}`;
      assert.deepEqual(
        loginIn(env, 'AMQP_URL', source),
        {
          protocol: 'amqp',
          user: users.get(service),
          password: brokerPassword,
          host: broker,
          port: '5672',
          path: '/',
        },
        `${name}: AMQP_URL`,
      );
      assert.deepEqual(
        loginIn(env, 'DATABASE_URL', source),
        {
          protocol: 'postgres',
          user: dbRole(service),
          password: `${LOGINS}/${passwordVariable('DB', service)}`,
          host: `${postgres.metadata.name}-rw`,
          port: '5432',
          path: `/${postgres.spec.bootstrap.initdb.database}`,
        },
        `${name}: DATABASE_URL`,
      );
      if (secretsReadBy(service).includes('RABBITMQ_MANAGEMENT_URL')) {
        assert.deepEqual(
          loginIn(env, 'RABBITMQ_MANAGEMENT_URL', source),
          {
            protocol: 'http',
            user: users.get(service),
            password: brokerPassword,
            host: broker,
            port: '15672',
            path: '',
          },
          `${name}: RABBITMQ_MANAGEMENT_URL`,
        );
      }
    }
  });

  it('when Kubernetes expands $(VAR) in a container, then VAR is defined above it in the same container', () => {
    const docs = overlay();
    let references = 0;
    for (const doc of docs) {
      const pod = podSpecOf(doc);
      for (const container of pod ? containersOf(pod) : []) {
        const env = container.env ?? [];
        env.forEach((variable, at) => {
          for (const name of referencedVariables(variable.value ?? '')) {
            references++;
            assert.ok(
              env.slice(0, at).some((e) => e.name === name),
              `${manifestRef(doc)} ${container.name}: ${variable.name} uses $(${name}) before it is defined`,
            );
          }
        });
      }
    }
    assert.ok(references > 0, 'the URLs use $(VAR)');
  });

  it("when the logins are provisioned, then the provision Job alone holds administrators' logins, and gets every service's passwords from the Secret the services read", () => {
    const docs = overlay();
    const secrets = byKind(docs, 'Secret');
    const source = sourceSecretName(secrets);
    const holders = docs
      .filter((doc) =>
        secretsNamedBy(podSpecOf(doc) ?? { containers: [] }).some((name) =>
          ADMIN_SECRETS.includes(name),
        ),
      )
      .map(manifestRef);
    assert.deepEqual(holders, ['Job/psc-provision']);

    const job = byKind(docs, 'Job').find((j) => j.metadata.name === 'psc-provision')!;
    const pod = podSpecOf(job)!;
    const [container, ...others] = pod.containers;
    assert.equal(others.length, 0);
    const env = container!.env ?? [];
    assert.equal(env.find((e) => e.name === 'SERVICE')?.value, 'provision');
    const gateway = byKind<Deployment>(docs, 'Deployment').find((d) => runs(d) === 'gateway')!;
    const gatewayPod = gateway.spec.template.spec;
    assert.equal(container!.image, gatewayPod.containers[0]!.image, 'the services’ image');

    // The ten passwords, under the names the scripts read, from the Secret the services read.
    const expected = SERVICES.flatMap((s) => [
      passwordVariable('BROKER', s),
      passwordVariable('DB', s),
    ]).sort();
    const reads = secretReads(container!, secrets).filter((r) => source(r.secret) === LOGINS);
    assert.deepEqual(reads.map((r) => r.variable).sort(), expected);
    assert.ok(reads.every((r) => r.variable === r.key));
    const logins = secrets.find((s) => source(s.metadata.name) === LOGINS)!;
    assert.deepEqual(secretKeys(logins).sort(), expected, `${LOGINS} of the example overlay`);
    const readers = new Set(
      docs.flatMap((doc) => {
        const spec = podSpecOf(doc);
        return spec ? secretsNamedBy(spec).filter((name) => source(name) === LOGINS) : [];
      }),
    );
    assert.deepEqual([...readers], [logins.metadata.name]);

    // Administrators of the broker and database the services use; users on the same vhost.
    const serviceEnv = gatewayPod.containers[0]!.env ?? [];
    const services = {
      amqp: loginIn(serviceEnv, 'AMQP_URL')!,
      db: loginIn(serviceEnv, 'DATABASE_URL')!,
    };
    assert.deepEqual(loginIn(env, 'RABBITMQ_MANAGEMENT_URL', source), {
      protocol: 'http',
      user: 'psc-rabbitmq-default-user/username',
      password: 'psc-rabbitmq-default-user/password',
      host: services.amqp.host,
      port: '15672',
      path: '',
    });
    assert.deepEqual(loginIn(env, 'AMQP_URL'), {
      ...services.amqp,
      user: undefined,
      password: undefined,
    });
    assert.deepEqual(loginIn(env, 'DATABASE_URL', source), {
      ...services.db,
      user: 'psc-postgres-superuser/username',
      password: 'psc-postgres-superuser/password',
    });
    // CloudNativePG creates psc-postgres-superuser only with superuser access on.
    const cluster = byKind<Manifest & { spec: { enableSuperuserAccess?: boolean } }>(
      docs,
      'Cluster',
    )[0]!;
    assert.equal(cluster.spec.enableSuperuserAccess, true);

    // As locked down as the services; bounded retries; gone after it ends, so an apply re-runs it.
    assert.deepEqual(pod.securityContext, gatewayPod.securityContext);
    assert.deepEqual(container!.securityContext, gatewayPod.containers[0]!.securityContext);
    assert.ok(
      container!.resources?.requests?.['memory'] && container!.resources.limits?.['memory'],
    );
    const spec = job['spec'] as { backoffLimit?: number; ttlSecondsAfterFinished?: number };
    assert.ok(spec.backoffLimit !== undefined && spec.backoffLimit > 0);
    assert.ok(spec.ttlSecondsAfterFinished !== undefined);
  });
});
