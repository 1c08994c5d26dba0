import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { JOB_QUEUE_FOR_TASK, QUEUES } from '../../libs/contracts/src/index.ts';
import { manifestRef, validateManifest } from './support/k8s-validate.ts';
import { kustomizeBuild, type Manifest } from './support/kustomize.ts';
import { SECRET_VARIABLES, SERVICES, secretsReadBy } from './support/service-secrets.ts';

const BASE = 'deploy/k8s/base';
const OVERLAY = 'deploy/k8s/overlays/example';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  env?: EnvVar[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface Deployment extends Manifest {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { spec: { containers: Container[] } };
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

  it('when secrets reach the pods, then each service gets only the secrets its config.ts reads, from Secret objects', () => {
    const docs = overlay();
    const secretNames = new Set(byKind(docs, 'Secret').map((s) => s.metadata.name));
    // Secrets the operators create at run time, from the RabbitmqCluster and the Cluster.
    const operatorSecrets = new Set(['psc-rabbitmq-default-user', 'psc-postgres-app']);
    for (const deployment of byKind<Deployment>(docs, 'Deployment')) {
      const service = runs(deployment) as (typeof SERVICES)[number];
      const env = deployment.spec.template.spec.containers[0]!.env ?? [];
      const given = SECRET_VARIABLES.filter((name) => env.some((e) => e.name === name));
      assert.deepEqual(given, secretsReadBy(service), service);
      for (const variable of env) {
        assert.ok(
          !variable.value ||
            !/:\/\/[^/$]*:[^/$]*@/.test(variable.value) ||
            variable.value.includes('$('),
          `${service}: ${variable.name} has no literal credentials`,
        );
        const ref = variable.valueFrom?.secretKeyRef;
        if (!ref) continue;
        assert.ok(
          secretNames.has(ref.name) || operatorSecrets.has(ref.name),
          `${service}: ${ref.name}`,
        );
        // A service's own Secret is named after it; no service reads another's.
        if (secretNames.has(ref.name))
          assert.match(ref.name, new RegExp(`^psc-${service}-`), service);
      }
    }
  });
});
