/** `kustomize build` of a directory, through kubectl's built-in kustomize or a kustomize binary. */
import { parseAllDocuments } from 'yaml';
import { onPath, run } from './tools.ts';

/** A rendered Kubernetes object, as far as the checks need to know. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

function builder(): { file: string; args: (dir: string) => string[] } {
  const kubectl = onPath('kubectl');
  if (kubectl) return { file: kubectl, args: (dir) => ['kustomize', dir] };
  const kustomize = onPath('kustomize');
  if (kustomize) return { file: kustomize, args: (dir) => ['build', dir] };
  throw new Error(
    'neither kubectl nor kustomize found: install kustomize v5 (or kubectl ≥ 1.27) on PATH',
  );
}

/** Renders `dir` (relative to the repository root) and returns its documents. */
export async function kustomizeBuild(dir: string): Promise<Manifest[]> {
  const { file, args } = builder();
  const result = await run(file, args(dir));
  if (result.code !== 0) throw new Error(`kustomize build ${dir} failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${dir}: ${doc.errors[0]!.message}`);
    return doc.toJS() as Manifest;
  });
}
