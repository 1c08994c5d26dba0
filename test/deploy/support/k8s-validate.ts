/**
 * Offline validation of Kubernetes manifests against the API's schemas:
 * - built-in kinds against kubernetes-models (validators generated from the Kubernetes OpenAPI),
 * - KEDA kinds against @kubernetes-models/keda (generated from KEDA's API types),
 * - the operators' custom resources against the JSON schemas in deploy/k8s/schemas, with their
 *   metadata against the ObjectMeta schema.
 * Like `kubectl apply --validate=strict`, a field the schema does not know is an error: the
 * generated validators ignore unknown fields, so each run records which fields the validator read
 * and reports the fields it never looked at. A kind without a schema is an error too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import { Ajv, type ErrorObject } from 'ajv';
import type { Manifest } from './kustomize.ts';
import { ROOT } from './tools.ts';

/** What the generated models expose: `validate()` throws on the first schema violation. */
interface ModelClass {
  prototype: { validate(this: unknown): void };
}

/**
 * Wraps `value` so that every property the validator reads, and every object whose keys it lists
 * (maps such as labels), is remembered; `unread()` then names the fields it never looked at.
 */
function readRecorder(value: object): { proxy: object; unread: () => string[] } {
  const read = new WeakMap<object, Set<string>>();
  const listed = new WeakSet<object>();
  const proxies = new WeakMap<object, object>();
  const mark = (target: object, key: string | symbol) => {
    if (typeof key !== 'string') return;
    const keys = read.get(target) ?? new Set<string>();
    keys.add(key);
    read.set(target, keys);
  };
  const wrap = (target: unknown): unknown => {
    if (target === null || typeof target !== 'object') return target;
    const known = proxies.get(target);
    if (known) return known;
    const proxy = new Proxy(target, {
      get(t, key, receiver) {
        mark(t, key);
        return wrap(Reflect.get(t, key, receiver));
      },
      has(t, key) {
        mark(t, key);
        return Reflect.has(t, key);
      },
      getOwnPropertyDescriptor(t, key) {
        mark(t, key);
        return Reflect.getOwnPropertyDescriptor(t, key);
      },
      ownKeys(t) {
        listed.add(t);
        return Reflect.ownKeys(t);
      },
    });
    proxies.set(target, proxy);
    return proxy;
  };
  const unread = (node: unknown, path: string): string[] => {
    if (node === null || typeof node !== 'object') return [];
    return Object.entries(node).flatMap(([key, child]) => {
      const here = `${path}/${key}`;
      const seen = Array.isArray(node) || listed.has(node) || read.get(node)?.has(key) === true;
      return [...(seen ? [] : [here]), ...unread(child, here)];
    });
  };
  return { proxy: wrap(value) as object, unread: () => unread(value, '') };
}

/** Errors of `value` against a generated model: schema violations, then unknown fields. */
function validateWithModel(model: ModelClass, value: object, at = ''): string[] {
  const recorder = readRecorder(value);
  try {
    model.prototype.validate.call(recorder.proxy);
  } catch (err) {
    return [(err as Error).message];
  }
  return recorder.unread().map((path) => `unknown field ${at}${path}`);
}

// strictRequired off: the schemas require fields of objects they otherwise leave loose (an
// imageCatalogRef must name kind, major and name) without spelling out those objects.
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, verbose: true });

/** One line per ajv error; a `not: {required}` (mutually exclusive fields) says which fields. */
function ajvMessage(error: ErrorObject): string {
  const at = error.instancePath || '/';
  if (error.keyword === 'not') {
    const fields = (error.schema as { required?: string[] }).required ?? [];
    return `${at} must not set ${fields.join(' and ')} together`;
  }
  if (error.keyword === 'additionalProperties') {
    return `unknown field ${at}/${(error.params as { additionalProperty: string }).additionalProperty}`;
  }
  return `${at} ${error.message ?? error.keyword}`;
}
const crdValidators = new Map<string, ReturnType<typeof ajv.compile>>();

/** The hand-written schema of a custom resource (`<group>-<version>-<Kind>.json`), if there is one. */
function crdValidator(group: string, version: string, kind: string) {
  const path = join(ROOT, 'deploy/k8s/schemas', `${group}-${version}-${kind}.json`);
  let validator = crdValidators.get(path);
  if (!validator && existsSync(path)) {
    validator = ajv.compile(JSON.parse(readFileSync(path, 'utf8')) as object);
    crdValidators.set(path, validator);
  }
  return validator;
}

/** Groups whose kinds are built into Kubernetes (kubernetes-models covers them). */
const isBuiltIn = (group: string) =>
  group === '' || !group.includes('.') || group.endsWith('.k8s.io');

async function modelFor(module: string, kind: string): Promise<ModelClass | undefined> {
  try {
    const loaded = (await import(module)) as Record<string, ModelClass | undefined>;
    return loaded[kind];
  } catch {
    return undefined;
  }
}

/** Every schema error of one manifest; empty when it is valid. */
export async function validateManifest(doc: Manifest): Promise<string[]> {
  const { apiVersion, kind } = doc;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    return ['apiVersion and kind must be strings'];
  }
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (isBuiltIn(group!) || group === 'keda.sh') {
    const module =
      group === 'keda.sh'
        ? `@kubernetes-models/keda/keda.sh/${version}/${kind}`
        : `kubernetes-models/${apiVersion}/${kind}`;
    const model = await modelFor(module, kind);
    if (!model) return [`no schema for ${apiVersion} ${kind}`];
    return validateWithModel(model, doc);
  }
  const validator = crdValidator(group!, version!, kind);
  if (!validator) return [`no schema for ${apiVersion} ${kind}`];
  const errors = validator(doc) ? [] : (validator.errors ?? []).map(ajvMessage);
  const metadata = doc.metadata as object | undefined;
  const metaErrors =
    metadata && typeof metadata === 'object'
      ? validateWithModel(ObjectMeta, metadata, '/metadata')
      : [];
  return [...errors, ...metaErrors];
}

/** `kind/name` of a manifest, for messages. */
export const manifestRef = (doc: Manifest) => `${doc.kind}/${doc.metadata?.name ?? '?'}`;
