import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { EXCHANGES } from '@psc/contracts';
import { boothSample, startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { parkOutboxRow } from '../support/parked-outbox.ts';
import { boothPagesResource, boothPlatform, raceCardsResource } from '../support/platforms.ts';
import { publishRaw } from '../support/event-capture.ts';
import { startSystem, type ApiPathWithQuery, type System } from '../support/system.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

interface MediaDoc {
  schema?: object;
}
interface OperationDoc {
  operationId: string;
  tags: string[];
  responses: Record<string, { content?: Record<string, MediaDoc> }>;
}
interface Document {
  paths: Record<string, Record<string, OperationDoc>>;
  components: { schemas: Record<string, object> };
}
interface Documented {
  method: string;
  template: string;
  pattern: RegExp;
  op: OperationDoc;
}

/*
 * Operations with a documented 2xx JSON body that this file does not call, and why. Keep it
 * short: every other operation must be called, so a new route cannot go unchecked. None today
 * (the streamed exports answer text, checked line by line below).
 */
const NOT_CALLED: Record<string, string> = {};

/** The formats the document uses; a format not here fails the test rather than going unchecked. */
const FORMATS = {
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  'date-time': (s: string) =>
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !isNaN(Date.parse(s)),
  date: /^\d{4}-\d\d-\d\d$/,
  uri: (s: string) => URL.canParse(s),
  // zod's startsWith: the schema's `pattern` says which prefix.
  starts_with: () => true,
};

const JSON_TYPE = 'application/json';
const UNKNOWN = '0b6f2c1e-8d4a-4f57-9b3e-2a1c5d7e9f10';

/**
 * Every response the test receives is checked against the document: its status must be one the
 * operation documents, and a JSON body must match that status's schema. What was checked is
 * remembered per operation, for the coverage test at the end.
 */
function conformance(doc: Document) {
  // Not strict about keywords (the document's `example`s), so formats are checked by hand.
  const formats = new Set<string>();
  JSON.stringify(doc, (key, value: unknown) => {
    if (key === 'format' && typeof value === 'string') formats.add(value);
    return value;
  });
  assert.deepEqual(
    [...formats].filter((f) => !(f in FORMATS)),
    [],
    'formats this test checks',
  );
  const ajv = new Ajv2020({ strictSchema: false, allErrors: true, formats: FORMATS });
  ajv.addSchema({ $id: 'psc', components: doc.components });
  const operations: Documented[] = Object.entries(doc.paths).flatMap(([template, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      template,
      pattern: new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`),
      op,
    })),
  );
  const validators = new Map<string, ValidateFunction>();
  /** operationId → statuses answered (and checked). */
  const answered = new Map<string, Set<number>>();
  const mismatches: string[] = [];

  const find = (method: string, path: string): Documented | undefined =>
    operations
      .filter((o) => o.method === method && o.pattern.test(path))
      // A literal segment wins over a parameter: /platforms/active, not /platforms/{id}.
      .sort((a, b) => a.template.split('{').length - b.template.split('{').length)[0];

  const validatorOf = (key: string, schema: object): ValidateFunction => {
    let validate = validators.get(key);
    if (!validate) {
      // The components are resolved against the document's: `#/components/…` → `psc#/components/…`.
      const rebased = JSON.parse(
        JSON.stringify(schema).replaceAll('"#/components/', '"psc#/components/'),
      ) as object;
      validate = ajv.compile(rebased);
      validators.set(key, validate);
    }
    return validate;
  };

  return {
    operations,
    answered,
    mismatches,
    check(method: string, path: string, status: number, type: string, body: unknown): void {
      const found = find(method, path);
      if (!found) {
        mismatches.push(`${method} ${path}: not in the document`);
        return;
      }
      const { op } = found;
      const seen = answered.get(op.operationId) ?? new Set<number>();
      seen.add(status);
      answered.set(op.operationId, seen);
      const response = op.responses[String(status)];
      if (!response) {
        mismatches.push(`${op.operationId}: answered ${status}, not documented`);
        return;
      }
      const media = type.split(';')[0]!.trim();
      if (status !== 204 && !response.content?.[media]) {
        mismatches.push(`${op.operationId} ${status}: answered ${media}, not documented`);
        return;
      }
      if (media !== JSON_TYPE) return;
      const schema = response.content?.[JSON_TYPE]?.schema;
      if (!schema) {
        mismatches.push(`${op.operationId} ${status}: a JSON body, none documented`);
        return;
      }
      const validate = validatorOf(`${op.operationId} ${status}`, schema);
      if (!validate(body)) {
        const errors = (validate.errors ?? []).map(
          (e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
        );
        mismatches.push(`${op.operationId} ${status}:\n    ${errors.join('\n    ')}`);
      }
    },
  };
}

describe('the gateway answers as its OpenAPI document says', { timeout: 180_000 }, () => {
  let system: System;
  let fake: FakePlatform;
  let receiver: WebhookReceiver;
  let doc: Document;
  let checker: ReturnType<typeof conformance>;

  /** One request through the gateway, checked against the document; `expect` is its status. */
  async function call<T = Record<string, unknown>>(
    method: string,
    path: ApiPathWithQuery | '/openapi.json' | '/health' | '/ready' | '/metrics' | '/docs',
    expect: number,
    init: { body?: unknown; headers?: Record<string, string>; apiKey?: string | null } = {},
  ): Promise<T> {
    const key = init.apiKey === undefined ? system.adminKey : init.apiKey;
    const res = await fetch(`${system.gatewayUrl}${path}`, {
      method,
      headers: {
        ...(init.body === undefined ? {} : { 'content-type': JSON_TYPE }),
        ...(key ? { 'x-api-key': key } : {}),
        ...init.headers,
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    const body: unknown = type.startsWith(JSON_TYPE) && text ? JSON.parse(text) : text;
    checker.check(method, path.split('?')[0]!, res.status, type, body);
    assert.equal(res.status, expect, `${method} ${path}: ${text.slice(0, 500)}`);
    return body as T;
  }
  const get = <T = Record<string, unknown>>(path: ApiPathWithQuery | '/metrics', expect = 200) =>
    call<T>('GET', path, expect);
  const post = <T = Record<string, unknown>>(path: ApiPathWithQuery, body: unknown, expect = 200) =>
    call<T>('POST', path, expect, { body });

  const jobEnded = (id: string) =>
    waitFor(
      async () => {
        const job = await get<{ status: string }>(`/api/v1/jobs/${id}`);
        return ['succeeded', 'failed', 'dead', 'cancelled'].includes(job.status) ? job : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, message: `job ${id} ended` },
    );

  before(async () => {
    fake = await startFakePlatform({
      collections: {
        '/booth/all': boothSample(25),
        '/booth/flaky': boothSample(3),
        '/booth/drifting': boothSample(5),
      },
    });
    fake.setFault({ status: 500, body: { error: 'boom' } }, { path: '/booth/flaky' });
    fake.route('GET', '/meetings/2026-01-01', () => ({
      body: { entries: [{ race: 1 }, { race: 2 }] },
    }));
    fake.route('GET', '/card/2026-01-01/1', () => ({ body: { runners: [{ n: 1 }, { n: 2 }] } }));
    fake.route('GET', '/card/2026-01-01/2', () => ({ status: 500, body: { error: 'no card' } }));
    receiver = await startWebhookReceiver();
    system = await startSystem({
      name: 'api-conformance',
      services: ['platform-registry'],
      env: {
        PSC_RETRY_TIERS_MS: '100,200,300',
        PSC_WEBHOOK_POLL_MS: '100',
        PSC_WEBHOOK_RETRY_BASE_MS: '100',
        PSC_WEBHOOK_RETRY_MAX_MS: '200',
        PSC_WEBHOOK_MAX_ATTEMPTS: '2',
        PSC_WEBHOOK_DISABLE_AFTER: '2',
        PSC_SCHEDULER_TICK_MS: '500',
        // Workers report their current jobs and open breakers this often.
        PSC_HEARTBEAT_MS: '200',
      },
    });
    // One at a time: services starting all at once on a busy machine can miss the readiness wait.
    for (const name of ['scheduler', 'sync-worker', 'collector', 'gateway'] as const) {
      await system.start(name);
    }
    doc = (await (await fetch(`${system.gatewayUrl}/openapi.json`)).json()) as Document;
    checker = conformance(doc);
  });

  // Each test fails on its own answers that are unlike the document, all of them listed.
  afterEach(() => {
    const found = checker?.mismatches.splice(0) ?? [];
    assert.deepEqual(found, [], `answers unlike the document:\n${found.join('\n')}`);
  });

  after(async () => {
    await system?.stop();
    await receiver?.stop();
    await fake?.stop();
  });

  let platformId = '';
  let platformName = '';
  let syncJob = '';
  let deadJob = '';
  let collectJob = '';
  let poisonId = '';

  it('when platforms are registered, read, changed, tested and their sync stopped, started and run, then every answer matches the document', async () => {
    const booths = boothPlatform(fake.url).resources[0]!;
    const created = await post<{ id: string; name: string; version: number }>(
      '/api/v1/platforms',
      boothPlatform(fake.url, {
        tags: ['fair'],
        auth: { type: 'header', name: 'X-Key', token: 'conformance-token-1234' },
        schedule: { sync: { enabled: true, intervalSeconds: 86_400 } },
        resources: [
          { ...booths, tasks: ['sync', 'validate'] },
          {
            ...booths,
            name: 'drifting',
            tasks: ['sync', 'validate'],
            request: { path: '/booth/drifting' },
          },
          boothPagesResource(),
          raceCardsResource(),
        ],
      }),
      201,
    );
    ({ id: platformId, name: platformName } = created);
    await get('/api/v1/platforms');
    await get('/api/v1/platforms?active=true&tag=fair&limit=1');
    await get('/api/v1/platforms/active');
    const read = await get<Record<string, unknown> & { version: number }>(
      `/api/v1/platforms/${platformId}`,
    );
    const { id: _id, createdAt: _c, updatedAt: _u, ...replace } = read;
    const replaced = await call<{ version: number }>(
      'PUT',
      `/api/v1/platforms/${platformId}`,
      200,
      {
        body: { ...replace, description: 'booths of the fair' },
      },
    );
    await call('PATCH', `/api/v1/platforms/${platformId}`, 200, {
      body: { priority: 7 },
      headers: {
        'content-type': 'application/merge-patch+json',
        'if-match': `"${replaced.version}"`,
      },
    });
    await post(`/api/v1/platforms/${platformId}/test`, { resource: 'booths' });
    await post(`/api/v1/platforms/${platformId}/test`, {});

    await get(`/api/v1/platforms/${platformId}/sync/status`);
    await post(`/api/v1/platforms/${platformId}/sync/stop`, { reason: 'maintenance window' });
    await get(`/api/v1/platforms/${platformId}/sync/status`);
    await post(`/api/v1/platforms/${platformId}/sync/start`, {});
    await post(`/api/v1/platforms/${platformId}/sync/once?wait=20`, {});
    await post(`/api/v1/platforms/${platformId}/sync/once`, {}, 202);
    await get(`/api/v1/monitoring/breakers?platformId=${platformId}`);
    await get('/api/v1/monitoring/breakers');
    await post(`/api/v1/platforms/${platformId}/breaker/reset`, {});

    const other = await post<{ id: string }>('/api/v1/platforms', boothPlatform(fake.url), 201);
    await call('DELETE', `/api/v1/platforms/${other.id}`, 204);
  });

  it('when jobs run, succeed, fail, die and are cancelled, then the job, validation, dead-letter and data answers match the document', async () => {
    const run = await post<{ jobs: { id: string }[] }>(
      '/api/v1/run/sync',
      { platformId, resource: 'booths' },
      202,
    );
    syncJob = run.jobs[0]!.id;
    await jobEnded(syncJob);
    await get(`/api/v1/jobs/${syncJob}`);
    await get('/api/v1/jobs');
    await get(`/api/v1/jobs?platformId=${platformId}&status=succeeded&limit=2`);
    await call('POST', `/api/v1/jobs/${syncJob}/cancel`, 409, { body: {} });

    // Synced, then the platform drifts: a validation with a changed, a missing and an extra record.
    const drifting = await post<{ jobs: { id: string }[] }>(
      '/api/v1/run/sync',
      { platformId, resource: 'drifting' },
      202,
    );
    await jobEnded(drifting.jobs[0]!.id);
    const now = boothSample(6);
    now[0]!.boothAllTable = 99;
    now.splice(4, 1);
    fake.setCollection('/booth/drifting', now);
    const validation = await post<{ jobs: { id: string }[] }>(
      '/api/v1/run/validate',
      { platformId, resource: 'drifting' },
      202,
    );
    await jobEnded(validation.jobs[0]!.id);
    await get(`/api/v1/validations?platformId=${platformId}`);
    await get(`/api/v1/validations/${validation.jobs[0]!.id}`);

    await get(`/api/v1/data/${platformId}/booths?limit=3`);
    await get(`/api/v1/data/${platformId}/drifting?includeDeleted=true`);
    await call('POST', `/api/v1/imports?platformId=${platformId}&resource=booths`, 200, {
      body: [{ boothName: 'Imported 1', boothAllTable: 4, boothUsageTable: 1 }],
    });

    // A platform that answers 500: its job runs out of retries and dies.
    const flaky = await post<{ id: string }>(
      '/api/v1/platforms',
      boothPlatform(fake.url, {
        breaker: { volumeThreshold: 1_000, errorThresholdPercentage: 100, resetTimeoutMs: 1_000 },
        resources: [
          { ...boothPlatform(fake.url).resources[0]!, request: { path: '/booth/flaky' } },
        ],
      }),
      201,
    );
    const died = async () => {
      const { jobs } = await post<{ jobs: { id: string }[] }>(
        '/api/v1/run/sync',
        { platformId: flaky.id },
        202,
      );
      const id = jobs[0]!.id;
      // Read while it retries, too: a retrying job says when it runs next.
      await jobEnded(id);
      await waitFor(
        async () =>
          (
            await get<{ items: { jobId: string }[] }>(`/api/v1/dlq?platformId=${flaky.id}`)
          ).items.some((d) => d.jobId === id),
        { timeoutMs: 30_000, message: `job ${id} is a dead letter` },
      );
      return id;
    };
    deadJob = await died();
    const second = await died();
    await get('/api/v1/dlq');
    await get(`/api/v1/dlq/${deadJob}`);
    await get(`/api/v1/jobs/${deadJob}`);
    await post(`/api/v1/dlq/${deadJob}/replay`, { reason: 'try again' });
    await call('DELETE', `/api/v1/dlq/${second}`, 204);
    await died();
    await post('/api/v1/dlq/replay', { platformId: flaky.id });

    // A job held by a platform that has not answered yet is cancelled.
    let answer: () => void = () => {};
    const held = new Promise<void>((resolve) => (answer = resolve));
    fake.route('GET', '/booth/slow', async () => {
      await held;
      return { body: { data: [] } };
    });
    const slow = await post<{ id: string }>(
      '/api/v1/platforms',
      boothPlatform(fake.url, {
        resources: [{ ...boothPlatform(fake.url).resources[0]!, request: { path: '/booth/slow' } }],
      }),
      201,
    );
    const slowJob = (
      await post<{ jobs: { id: string }[] }>('/api/v1/run/sync', { platformId: slow.id }, 202)
    ).jobs[0]!.id;
    await waitFor(
      async () => (await get<{ status: string }>(`/api/v1/jobs/${slowJob}`)).status === 'running',
      { timeoutMs: 30_000, message: 'the slow job runs' },
    );
    await waitFor(
      async () =>
        (
          await get<{ items: { currentJobs: unknown[] }[] }>('/api/v1/monitoring/workers')
        ).items.some((w) => w.currentJobs.length > 0),
      { timeoutMs: 10_000, message: 'a worker reports the slow job' },
    );
    await get('/api/v1/monitoring/pipeline');
    await get('/api/v1/jobs?status=running');
    await post(`/api/v1/jobs/${slowJob}/cancel`, { reason: 'wrong day' });
    answer();
    await jobEnded(slowJob);
    await get(`/api/v1/jobs/${slowJob}`);
  });

  it('when the scheduler, its task configs and schedules are read and changed, then every answer matches the document', async () => {
    await get('/api/v1/scheduler');
    await post('/api/v1/scheduler/pause', { reason: 'db upgrade' });
    await get('/api/v1/scheduler');
    await post('/api/v1/scheduler/resume', {});
    await post('/api/v1/scheduler/stop', { reason: 'quiet hour' });
    await post('/api/v1/scheduler/start', {});
    await get('/api/v1/scheduler/config');
    await post('/api/v1/scheduler/config', {
      validate: { enabled: true, intervalSeconds: 86_400 },
    });
    await get('/api/v1/scheduler/config/sync');
    await call('PUT', '/api/v1/scheduler/config/collect', 200, {
      body: { enabled: true, cron: '30 2 * * *', timezone: 'Europe/Berlin', misfire: 'run_once' },
    });
    await call('PUT', '/api/v1/scheduler/config/validate', 200, {
      body: {
        enabled: false,
        intervalSeconds: 86_400,
        timezone: 'Asia/Seoul',
        priority: 3,
        jitterSeconds: 10,
        overlap: 'enqueue',
        misfire: 'skip',
        autoPauseAfterFailures: 5,
        params: { full: true },
      },
    });
    await post('/api/v1/scheduler/config/validate/pause', { reason: 'audit' });
    await get('/api/v1/scheduler/config');
    await post('/api/v1/scheduler/config/validate/resume', {});
    await waitFor(
      async () =>
        (await get<{ items: unknown[] }>(`/api/v1/schedules?platformId=${platformId}`)).items
          .length > 0,
      { timeoutMs: 30_000, message: 'the platform has schedules' },
    );
    await get('/api/v1/schedules?taskType=sync&limit=5');
  });

  it('when backfills, webhooks, collections and collectors are used, then every answer matches the document', async () => {
    const backfill = await post<{ id: string }>(
      '/api/v1/backfills',
      {
        platformId,
        resource: 'booths',
        taskType: 'sync',
        from: '2025-01-01',
        to: '2025-03-01',
        maxConcurrent: 1,
      },
      202,
    );
    await get('/api/v1/backfills');
    await get(`/api/v1/backfills/${backfill.id}`);
    await post(`/api/v1/backfills/${backfill.id}/cancel`, { reason: 'enough history' });
    const small = await post<{ id: string }>(
      '/api/v1/backfills',
      { platformId, resource: 'booths', taskType: 'sync', from: '2025-01-01', to: '2025-01-02' },
      202,
    );
    await waitFor(
      async () =>
        (await get<{ status: string }>(`/api/v1/backfills/${small.id}`)).status === 'succeeded',
      { timeoutMs: 30_000, message: 'the small backfill succeeded' },
    );
    await get(`/api/v1/backfills?platformId=${platformId}`);

    const hook = await post<{ id: string }>(
      '/api/v1/webhooks',
      { url: `${receiver.url}/hook`, events: ['job.dead'], description: 'on-call' },
      201,
    );
    await get('/api/v1/webhooks');
    await get(`/api/v1/webhooks/${hook.id}`);
    await post(`/api/v1/webhooks/${hook.id}/disable`, {});
    await post(`/api/v1/webhooks/${hook.id}/enable`, {});
    await post(`/api/v1/webhooks/${hook.id}/test`, {}, 202);
    await waitFor(
      async () =>
        (await get<{ items: unknown[] }>(`/api/v1/webhooks/${hook.id}/deliveries`)).items.length >
        0,
      { timeoutMs: 30_000, message: 'the test delivery is listed' },
    );
    const gone = await post<{ id: string }>(
      '/api/v1/webhooks',
      { url: `${receiver.url}/gone`, events: ['breaker.opened'] },
      201,
    );
    await call('DELETE', `/api/v1/webhooks/${gone.id}`, 204);

    const started = await post<{ jobId: string }>(
      '/api/v1/collections',
      { platformId, resource: 'booth-pages', params: { day: '2026-01-01' } },
      202,
    );
    collectJob = started.jobId;
    await jobEnded(collectJob);
    await get(`/api/v1/collections/${collectJob}`);
    await get(`/api/v1/collections/${collectJob}/documents?limit=2`);
    const cards = await post<{ jobId: string }>(
      '/api/v1/collections',
      { platformId, resource: 'cards', params: { date: '2026-01-01' } },
      202,
    );
    await jobEnded(cards.jobId);
    await get(`/api/v1/collections/${cards.jobId}`);
    await get(`/api/v1/collections/${cards.jobId}/children`);
    await get(`/api/v1/collections/${cards.jobId}/documents`);

    await get('/api/v1/collectors');
    const collector = `/api/v1/collectors/${platformName}/booth-pages` as const;
    await get(`${collector}/status`);
    await post(`${collector}/stop`, { reason: 'source closed' });
    await get(`${collector}/status`);
    await post(`${collector}/start`, {});
    await post(`${collector}/once`, { params: { day: '2026-01-02' } }, 202);
  });

  it('when monitoring, logs, keys, the audit log and the probes are read, then every answer matches the document', async () => {
    await parkOutboxRow(system.env.databaseUrl);
    await get('/api/v1/monitoring/outbox');
    await get('/api/v1/monitoring/queues');
    await get('/api/v1/monitoring/workers');
    await get('/api/v1/monitoring/pipeline');
    await get('/api/v1/logs');
    await get(`/api/v1/logs?jobId=${deadJob}&level=debug`);
    await get(`/api/v1/logs?level=warn&service=sync-worker&limit=5`);

    await get('/api/v1/me');
    const key = await post<{ id: string; key: string }>(
      '/api/v1/api-keys',
      { name: 'dashboards', role: 'viewer' },
      201,
    );
    await call('GET', '/api/v1/me', 200, { apiKey: key.key });
    await get('/api/v1/api-keys');
    await call('DELETE', `/api/v1/api-keys/${key.id}`, 204);
    await get('/api/v1/audit');
    await get(`/api/v1/audit?targetId=${platformId}`);

    // Streamed exports are documented as text of their media type, with no schema per line: each
    // JSONL line is still one JSON value, as a client reading it line by line expects.
    for (const path of [
      `/api/v1/data/${platformId}/booths/export`,
      `/api/v1/collections/${collectJob}/documents/export`,
    ] as const) {
      const lines = (await get<string>(path)).trimEnd().split('\n');
      assert.ok(lines.length > 1, path);
      for (const line of lines) assert.equal(typeof JSON.parse(line), 'object', line);
    }
    await get(`/api/v1/data/${platformId}/booths/export?format=csv`);
    await get('/metrics');
    await call('GET', '/docs', 200, { apiKey: null });
    await call('GET', '/openapi.json', 200, { apiKey: null });
    await call('GET', '/health', 200, { apiKey: null });
    await call('GET', '/ready', 200, { apiKey: null });
  });

  it('when platforms of every auth and paging style fail, trip their breaker, are scheduled until their schedule pauses, and their records change, then the rarer shapes of each answer match the document too', async () => {
    const booths = boothPlatform(fake.url).resources[0]!;
    const schedule = {
      enabled: false,
      cron: '15 3 * * *',
      timezone: 'Europe/Berlin',
      priority: 3,
      jitterSeconds: 5,
      overlap: 'enqueue',
      misfire: 'skip',
      autoPauseAfterFailures: 3,
      params: { full: true },
    };
    const variety = await post<{ id: string }>(
      '/api/v1/platforms',
      boothPlatform(fake.url, {
        auth: { type: 'bearer', token: 'conformance-bearer-5678' },
        rateLimit: { requestsPerSecond: 50 },
        schedule: {
          sync: schedule,
          validate: { ...schedule, cron: undefined, intervalSeconds: 600 },
        },
        resources: [
          {
            ...booths,
            name: 'offsets',
            tasks: ['sync', 'validate'],
            pagination: { type: 'offset', offsetParam: 'offset', limitParam: 'limit', limit: 10 },
            successWhen: 'total >= 0',
            errorMessagePath: 'error',
            deleteMissing: false,
            schedule: { sync: { enabled: false, intervalSeconds: 3_600 } },
            children: [
              {
                name: 'menus',
                itemsPath: 'menus',
                key: 'menuName',
                mapping: { name: 'menuName', sold: 'menuSalesQuantity' },
              },
            ],
          },
          {
            ...booths,
            name: 'cursors',
            pagination: {
              type: 'cursor',
              nextPath: 'next',
              cursorParam: 'cursor',
              limitParam: 'limit',
              limit: 10,
            },
            cursor: { field: 'name', param: 'since' },
          },
          {
            ...booths,
            name: 'linked',
            request: {
              method: 'POST',
              path: '/booth/all',
              query: { paging: 'link' },
              body: { all: true },
            },
            pagination: { type: 'link' },
          },
        ],
      }),
      201,
    );
    await get(`/api/v1/platforms/${variety.id}`);
    await post(`/api/v1/platforms/${variety.id}/test`, {});
    const query = await post<{ id: string }>(
      '/api/v1/platforms',
      boothPlatform(fake.url, {
        auth: { type: 'query', name: 'key', token: 'conformance-query-9012' },
        resources: [{ ...booths, request: { path: '/booth/missing' } }],
      }),
      201,
    );
    await post(`/api/v1/platforms/${query.id}/test`, { resource: 'booths' });
    await get('/api/v1/platforms?limit=100');

    // Records with children, and records the platform dropped.
    const offsets = await post<{ jobs: { id: string }[] }>(
      '/api/v1/run/sync',
      { platformId: variety.id, resource: 'offsets', priority: 2, params: { full: true } },
      202,
    );
    await jobEnded(offsets.jobs[0]!.id);
    await get(`/api/v1/data/${variety.id}/offsets.menus?limit=5`);
    const drifting = await post<{ jobs: { id: string }[] }>(
      '/api/v1/run/sync',
      { platformId, resource: 'drifting' },
      202,
    );
    await jobEnded(drifting.jobs[0]!.id);
    await get(`/api/v1/data/${platformId}/drifting?includeDeleted=true`);
    // A line without its key is refused; the others are stored (422 with the summary).
    await call('POST', `/api/v1/imports?platformId=${platformId}&resource=booths`, 422, {
      body: [
        { boothAllTable: 4 },
        { boothName: 'Imported 2', boothAllTable: 2, boothUsageTable: 1 },
      ],
    });

    // A breaker that opens at the first failure: its job waits, the breaker shows everywhere.
    const fragile = await post<{ id: string }>(
      '/api/v1/platforms',
      boothPlatform(fake.url, {
        breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 60_000 },
        resources: [{ ...booths, request: { path: '/booth/flaky' } }],
      }),
      201,
    );
    const waiting = (
      await post<{ jobs: { id: string }[] }>('/api/v1/run/sync', { platformId: fragile.id }, 202)
    ).jobs[0]!.id;
    await waitFor(
      async () =>
        (await get<{ items: unknown[] }>(`/api/v1/monitoring/breakers?platformId=${fragile.id}`))
          .items.length > 0,
      { timeoutMs: 30_000, message: 'the fragile platform’s breaker is listed' },
    );
    await get(`/api/v1/jobs/${waiting}`);
    await get(`/api/v1/platforms/${fragile.id}/sync/status`);
    await get('/api/v1/monitoring/workers');
    await get('/api/v1/monitoring/pipeline');
    await post(`/api/v1/platforms/${fragile.id}/breaker/reset`, {});
    await post(`/api/v1/jobs/${waiting}/cancel`, { reason: 'breaker test over' });

    // A schedule every second of a failing resource, paused after its first failure.
    await post('/api/v1/scheduler/config', { sync: { enabled: true, intervalSeconds: 86_400 } });
    const scheduled = await post<{ id: string }>(
      '/api/v1/platforms',
      boothPlatform(fake.url, {
        breaker: { volumeThreshold: 1_000, errorThresholdPercentage: 100, resetTimeoutMs: 1_000 },
        schedule: { sync: { enabled: true, intervalSeconds: 1, autoPauseAfterFailures: 1 } },
        resources: [{ ...booths, request: { path: '/booth/flaky' } }],
      }),
      201,
    );
    await waitFor(
      async () =>
        (
          await get<{ items: { pausedReason: string | null }[] }>(
            `/api/v1/schedules?platformId=${scheduled.id}`,
          )
        ).items.some((s) => s.pausedReason !== null),
      { timeoutMs: 40_000, message: 'the failing schedule paused itself' },
    );
    await get(`/api/v1/jobs?platformId=${scheduled.id}`);
    await get(`/api/v1/platforms/${scheduled.id}/sync/status`);
    await get(`/api/v1/dlq?platformId=${scheduled.id}`);
    await call('DELETE', `/api/v1/platforms/${scheduled.id}`, 204);

    // Jobs of a backfill, a replay and a fan-out collection.
    await get('/api/v1/jobs?limit=100');
    await get('/api/v1/jobs?taskType=collect&limit=100');

    // A message outside its contract: a dead letter that names no job.
    const messageId = `poison-${Math.random().toString(36).slice(2, 8)}`;
    await publishRaw(
      system.env.vhost,
      EXCHANGES.jobs,
      'sync',
      JSON.stringify({ type: 'job.run', version: 1, payload: {} }),
      { messageId, headers: { 'x-origin': 'conformance' } },
    );
    const poison = await waitFor(
      async () =>
        (
          await get<{ items: { id: string; jobId: string | null }[] }>(
            '/api/v1/dlq?reason=poison_message',
          )
        ).items.find((d) => d.jobId === null),
      { timeoutMs: 30_000, message: 'the poison message is a dead letter' },
    );
    await get(`/api/v1/dlq/${poison.id}`);
    poisonId = poison.id;

    // Deliveries that succeed, and ones that fail until the webhook is disabled.
    receiver.answer('/down', () => 500);
    const up = await post<{ id: string }>(
      '/api/v1/webhooks',
      {
        url: `${receiver.url}/up`,
        events: ['job.dead', 'schedule.auto_paused'],
        secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      },
      201,
    );
    const down = await post<{ id: string }>(
      '/api/v1/webhooks',
      { url: `${receiver.url}/down`, events: ['job.dead'] },
      201,
    );
    await post(`/api/v1/webhooks/${up.id}/test`, {}, 202);
    // Two attempts, two failures in a row: the delivery fails and the webhook is switched off.
    await post(`/api/v1/webhooks/${down.id}/test`, {}, 202);
    await waitFor(
      async () => {
        const done = await get<{ items: { status: string }[] }>(
          `/api/v1/webhooks/${up.id}/deliveries?status=succeeded`,
        );
        const failed = await get<{ items: { status: string }[] }>(
          `/api/v1/webhooks/${down.id}/deliveries?status=failed`,
        );
        return done.items.length > 0 && failed.items.length > 0;
      },
      { timeoutMs: 30_000, message: 'a delivery succeeded and one failed' },
    );
    await get(`/api/v1/webhooks/${down.id}/deliveries`);
    await get(`/api/v1/webhooks/${down.id}`);
    await get('/api/v1/webhooks');

    await post('/api/v1/api-keys', { name: 'operators', role: 'operator' }, 201);
    await get('/api/v1/api-keys?limit=1');
    await get('/api/v1/audit?limit=200');
    await get('/api/v1/logs?level=debug&limit=500');
    await get('/api/v1/collectors');
  });

  it('when each family of operations is called wrongly, then each answers a documented 4xx with the error envelope', async () => {
    const wrong: [string, ApiPathWithQuery, number, unknown?][] = [
      ['GET', `/api/v1/platforms/${UNKNOWN}`, 404],
      ['POST', '/api/v1/platforms', 422, { name: '' }],
      ['GET', '/api/v1/platforms?limit=0', 422],
      ['PATCH', `/api/v1/platforms/${platformId}`, 412, { priority: 1 }],
      ['POST', `/api/v1/platforms/${UNKNOWN}/sync/start`, 404, {}],
      ['POST', '/api/v1/platforms/not-an-id/breaker/reset', 422, {}],
      ['GET', `/api/v1/jobs/${UNKNOWN}`, 404],
      ['POST', '/api/v1/run/nightly', 422, {}],
      ['PUT', '/api/v1/scheduler/config/sync', 422, { intervalSeconds: -1 }],
      ['GET', `/api/v1/data/${platformId}/nothing`, 404],
      ['GET', `/api/v1/validations/${UNKNOWN}`, 404],
      ['GET', `/api/v1/dlq/${UNKNOWN}`, 404],
      ['GET', `/api/v1/backfills/${UNKNOWN}`, 404],
      ['POST', '/api/v1/webhooks', 422, { url: 'not a url', events: [] }],
      ['GET', `/api/v1/collections/${UNKNOWN}`, 404],
      ['GET', `/api/v1/collectors/${platformName}/no-such/status`, 404],
      ['GET', '/api/v1/logs?level=loud', 422],
      ['POST', '/api/v1/api-keys', 422, { name: 'x', role: 'root' }],
    ];
    for (const [method, path, status, body] of wrong) {
      await call(method, path, status, {
        ...(body === undefined ? {} : { body }),
        ...(method === 'PATCH'
          ? { headers: { 'content-type': 'application/merge-patch+json', 'if-match': '"999"' } }
          : {}),
      });
    }
    // A bad page cursor, on every list that takes one from its owner.
    for (const list of [
      '/api/v1/platforms',
      '/api/v1/platforms/active',
      '/api/v1/jobs',
      '/api/v1/schedules',
      '/api/v1/validations',
      '/api/v1/dlq',
      '/api/v1/backfills',
      '/api/v1/logs',
      '/api/v1/audit',
      `/api/v1/data/${platformId}/booths`,
    ] as const) {
      await call('GET', `${list}?cursor=bm90LWEtY3Vyc29y`, 400);
    }
    // Bodies that are not JSON, are too big, or are of another type.
    const raw = async (body: string, type: string, status: number) => {
      const res = await fetch(`${system.gatewayUrl}/api/v1/backfills`, {
        method: 'POST',
        headers: { 'x-api-key': system.adminKey, 'content-type': type },
        body,
      });
      checker.check(
        'POST',
        '/api/v1/backfills',
        res.status,
        res.headers.get('content-type') ?? '',
        await res.json(),
      );
      assert.equal(res.status, status, body.slice(0, 20));
    };
    await raw('{not json', JSON_TYPE, 400);
    await raw('hello', 'text/plain', 415);
    await raw(JSON.stringify({ pad: 'x'.repeat(2_000_000) }), JSON_TYPE, 413);

    // Every operation on something that does not exist, the document's own list of them.
    const bodies: Record<string, unknown> = {
      replacePlatform: { ...boothPlatform(fake.url), version: 1 },
      createBackfill: {
        platformId: UNKNOWN,
        resource: 'booths',
        taskType: 'sync',
        from: '2025-01-01',
        to: '2025-01-02',
      },
      startCollection: { platformId: UNKNOWN, resource: 'booths' },
      importRecords: [],
    };
    const named = checker.operations.filter(
      ({ template, op }) =>
        template.startsWith('/api/v1/') &&
        op.responses['404'] &&
        (template.includes('{id}') ||
          template.includes('{jobId}') ||
          template.includes('{platform') ||
          op.operationId in bodies),
    );
    for (const { method, template, op } of named) {
      const path = template
        .replace(/\{(id|jobId|platformId)\}/g, UNKNOWN)
        .replace(/\{(platform|resource)\}/g, 'no-such') as ApiPathWithQuery;
      const query =
        op.operationId === 'importRecords' ? `?platformId=${UNKNOWN}&resource=booths` : '';
      await call(method, `${path}${query}`, 404, {
        ...(method === 'GET' || method === 'DELETE' ? {} : { body: bodies[op.operationId] ?? {} }),
        ...(method === 'PATCH'
          ? { headers: { 'content-type': 'application/merge-patch+json' } }
          : {}),
      });
    }
    assert.ok(named.length > 30, `${named.length} operations on something that does not exist`);

    // Listed, but a message that names no job run cannot be replayed.
    await call('POST', `/api/v1/dlq/${poisonId}/replay`, 409, { body: {} });

    await call('GET', '/api/v1/jobs', 401, { apiKey: null });
    const viewer = await post<{ key: string }>(
      '/api/v1/api-keys',
      { name: 'v', role: 'viewer' },
      201,
    );
    await call('POST', '/api/v1/scheduler/pause', 403, { body: {}, apiKey: viewer.key });
    // The gateway keeps answering after all that.
    await get('/api/v1/me');

    const families = new Set(checker.operations.map((o) => o.op.tags[0]!));
    families.delete('service');
    const refused = new Set(
      checker.operations
        .filter((o) =>
          [...(checker.answered.get(o.op.operationId) ?? [])].some((s) => s >= 400 && s < 500),
        )
        .map((o) => o.op.tags[0]!),
    );
    assert.deepEqual(
      [...families].filter((f) => !refused.has(f)),
      [],
      'families with no 4xx checked',
    );
  });

  it('then every operation with a documented 2xx JSON body was called and answered as documented', () => {
    const uncalled = checker.operations
      .filter(({ op }) =>
        Object.entries(op.responses).some(
          ([status, r]) => status.startsWith('2') && r.content?.[JSON_TYPE],
        ),
      )
      .filter(({ op }) => !(op.operationId in NOT_CALLED))
      .filter(({ op }) => ![...(checker.answered.get(op.operationId) ?? [])].some((s) => s < 300))
      .map(({ method, template }) => `${method} ${template}`);
    assert.deepEqual(uncalled, [], 'operations never answered 2xx in this test');
  });
});
