/**
 * The pods a rendered manifest runs and what reaches their containers: environment variables, the
 * Secrets and keys they read, and the `$(VAR)` references Kubernetes expands in values.
 */
import type { Manifest } from './kustomize.ts';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
export interface Container {
  name: string;
  image?: string;
  env?: EnvVar[];
  envFrom?: { secretRef?: { name: string }; configMapRef?: { name: string } }[];
  securityContext?: object;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: { name: string; secret?: { secretName: string } }[];
  securityContext?: object;
}

/** The pod template of a workload (Deployment, Job, StatefulSet, CronJob…); none for other kinds. */
export function podSpecOf(doc: Manifest): PodSpec | undefined {
  const spec = doc['spec'] as
    | {
        template?: { spec?: PodSpec };
        jobTemplate?: { spec?: { template?: { spec?: PodSpec } } };
      }
    | undefined;
  return spec?.template?.spec ?? spec?.jobTemplate?.spec?.template?.spec;
}

/** Every container of a pod, init containers included. */
export const containersOf = (pod: PodSpec): Container[] => [
  ...(pod.initContainers ?? []),
  ...pod.containers,
];

/** The keys of a rendered Secret (`data` and `stringData`). */
export function secretKeys(secret: Manifest): string[] {
  const data = (secret['data'] ?? {}) as Record<string, string>;
  const stringData = (secret['stringData'] ?? {}) as Record<string, string>;
  return [...Object.keys(data), ...Object.keys(stringData)];
}

/** One value a container reads from a Secret: under `variable` (envFrom: the key's name). */
export interface SecretRead {
  variable: string;
  secret: string;
  key: string;
}

/**
 * What a container reads from Secrets: `env` entries by `secretKeyRef`, and every key of each
 * `envFrom` Secret, looked up in `secrets` (a Secret the render does not hold gives key `*`).
 */
export function secretReads(container: Container, secrets: Manifest[]): SecretRead[] {
  const fromEnv = (container.env ?? []).flatMap((v) => {
    const ref = v.valueFrom?.secretKeyRef;
    return ref ? [{ variable: v.name, secret: ref.name, key: ref.key }] : [];
  });
  const fromEnvFrom = (container.envFrom ?? []).flatMap(({ secretRef }) => {
    if (!secretRef) return [];
    const secret = secrets.find((s) => s.metadata.name === secretRef.name);
    const keys = secret ? secretKeys(secret) : ['*'];
    return keys.map((key) => ({ variable: key, secret: secretRef.name, key }));
  });
  return [...fromEnv, ...fromEnvFrom];
}

/** Every Secret a pod names: env, envFrom and volumes, of every container. */
export function secretsNamedBy(pod: PodSpec): string[] {
  const names = containersOf(pod).flatMap((c) => [
    ...(c.env ?? []).flatMap((v) => v.valueFrom?.secretKeyRef?.name ?? []),
    ...(c.envFrom ?? []).flatMap((f) => f.secretRef?.name ?? []),
  ]);
  names.push(...(pod.volumes ?? []).flatMap((v) => v.secret?.secretName ?? []));
  return [...new Set(names)];
}

/** The variables `$(NAME)` in a value refers to (`$$(NAME)` is an escaped, literal `$(NAME)`). */
export const referencedVariables = (value: string): string[] =>
  [...value.matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]!);

/**
 * The name a Secret has in the kustomization: a generated Secret's rendered name carries a hash
 * suffix (psc-logins-dtd65m49c2), which references follow; any other name is returned as is.
 */
export function sourceSecretName(secrets: Manifest[]): (name: string) => string {
  const rendered = new Set(secrets.map((s) => s.metadata.name));
  return (name) => (rendered.has(name) ? name.replace(/-[a-z0-9]{10}$/, '') : name);
}

/** A URL variable of a container, split up; user and password as Secret references. */
export interface Login {
  protocol: string;
  /** Literal, or `<secret>/<key>` for a `$(VAR)` defined above from a Secret. */
  user?: string;
  password?: string;
  host: string;
  port: string;
  path: string;
}

/**
 * The URL in variable `name` of `env`, with a `$(VAR)` user or password replaced by the Secret and
 * key VAR reads: `undefined VAR` when VAR is not defined above `name` (Kubernetes would leave
 * `$(VAR)` in the URL), `no secret VAR` when it is no Secret's. Undefined for any other value.
 */
export function loginIn(
  env: EnvVar[],
  name: string,
  secretName: (rendered: string) => string = (n) => n,
): Login | undefined {
  const at = env.findIndex((e) => e.name === name);
  const match = /^([a-z]+):\/\/(?:([^:@/]+):([^@/]+)@)?([^:/@]+):(\d+)(\/.*)?$/.exec(
    env[at]?.value ?? '',
  );
  if (!match) return undefined;
  const resolve = (part: string | undefined) => {
    const variable = /^\$\(([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(part ?? '')?.[1];
    if (!variable) return part;
    const defined = env.slice(0, at).find((e) => e.name === variable);
    if (!defined) return `undefined ${variable}`;
    const ref = defined.valueFrom?.secretKeyRef;
    return ref ? `${secretName(ref.name)}/${ref.key}` : `no secret ${variable}`;
  };
  const [, protocol, user, password, host, port, path] = match;
  return {
    protocol: protocol!,
    user: resolve(user),
    password: resolve(password),
    host: host!,
    port: port!,
    path: path ?? '',
  };
}
