/**
 * deploy/kubernetes/*.yaml against the typed Kubernetes and KEDA models (their JSON schemas), and
 * against what they deploy: the variables gpu-runner/src/service/env.ts reads, the image that
 * gpu-runner/Dockerfile builds (entry point, user, work dir, stop timeout), and the queue route and
 * schema the worker serves.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Secret } from 'kubernetes-models/v1/Secret';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { runnerQueue } from '@polyprune/shared/api/jobs';
import { readRunnerEnv } from '@polyprune/gpu-runner/service/env';
import { repoRoot } from '../../scripts/lib/stack';
import { app } from '@polyprune/worker/index';
import { openApiDocument } from '@polyprune/worker/lib/openapi';

const dir = path.join(repoRoot, 'deploy/kubernetes');
const read = (rel: string) => readFileSync(path.join(repoRoot, rel), 'utf8');

type Doc = { apiVersion: string; kind: string; metadata: { name: string } } & Record<string, any>;
function docs(file: string): Doc[] {
  return parseAllDocuments(read(path.join('deploy/kubernetes', file))).map((d) => {
    expect(d.errors, file).toEqual([]);
    return d.toJS() as Doc;
  });
}

/** Each document through its model: the schema check throws on a wrong field, type or missing key. */
function validated(d: Doc) {
  const models: Record<string, new (x: any) => { validate(): void }> = {
    'apps/v1/Deployment': Deployment,
    'v1/Secret': Secret,
    'keda.sh/v1alpha1/ScaledObject': ScaledObject,
    'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
  };
  const M = models[`${d.apiVersion}/${d.kind}`];
  expect(M, `${d.apiVersion} ${d.kind}`).toBeDefined();
  new M!(d).validate();
  return d;
}

const files = ['secret.yaml', 'trigger-auth.yaml', 'runner-gpu.yaml', 'runner-cpu.yaml'];
const all = files.flatMap((f) => docs(f).map(validated));
const one = (kind: string, name: string) => {
  const found = all.filter((d) => d.kind === kind && d.metadata.name === name);
  expect(found, `${kind} ${name}`).toHaveLength(1);
  return found[0]!;
};

// What the image and the runner really use.
const dockerfile = read('gpu-runner/Dockerfile');
const envSource = read('gpu-runner/src/service/env.ts');
const runnerVars = new Set(envSource.match(/POLYPRUNE_[A-Z_]+/g));
const imageEnv = Object.fromEntries([...dockerfile.matchAll(/^\s*(?:ENV\s+)?(POLYPRUNE_[A-Z_]+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
const imageUid = Number(/useradd[^\n]*--uid (\d+)/.exec(dockerfile)![1]);
const stopTimeout = Number(/--stop-timeout (\d+)/.exec(dockerfile)![1]);

describe('deploy/kubernetes', () => {
  it('validates every manifest of the folder (a new one must come through here too)', () => {
    expect(
      readdirSync(dir)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort(),
    ).toEqual([...files].sort());
  });

  it('the schema check refuses a malformed manifest (the validation is real)', () => {
    const d = structuredClone(one('Deployment', 'polyprune-runner-gpu'));
    d.spec.template.spec.terminationGracePeriodSeconds = 'ten minutes';
    expect(() => new Deployment(d as never).validate()).toThrow();
    const s = structuredClone(one('ScaledObject', 'polyprune-runner-gpu'));
    delete s.spec.scaleTargetRef;
    expect(() => new ScaledObject(s as never).validate()).toThrow();
  });

  for (const [device, name] of [
    ['cuda', 'polyprune-runner-gpu'],
    ['cpu', 'polyprune-runner-cpu'],
  ] as const) {
    describe(`${device} runners (${name})`, () => {
      const dep = one('Deployment', name);
      const pod = dep.spec.template.spec;
      const c = pod.containers[0];
      const env = new Map<string, any>(c.env.map((e: any) => [e.name, e]));
      const so = one('ScaledObject', name);

      it('runs the image entry point unchanged, as the image user, with variables the runner reads', () => {
        expect(pod.containers).toHaveLength(1);
        // A command or args would replace the ENTRYPOINT: the runner must stay PID 1 to get SIGTERM.
        expect(c.command).toBeUndefined();
        expect(c.args).toBeUndefined();
        expect(dockerfile).toMatch(/ENTRYPOINT \[[^\]]*"gpu-runner\/src\/service\/main\.ts"\]/);
        expect(pod.securityContext.runAsUser).toBe(imageUid);
        expect(pod.securityContext.fsGroup).toBe(imageUid);
        for (const k of env.keys()) expect(runnerVars, `${k} is not read by gpu-runner/src/service/env.ts`).toContain(k);
        expect(env.get('POLYPRUNE_DEVICE').value).toBe(device);
        // The variables as a runner would read them: the same parser, so a bad value fails here.
        const plain = Object.fromEntries([...env].map(([k, e]) => [k, e.value ?? 'from-secret-or-field']));
        const parsed = readRunnerEnv(plain);
        expect(parsed.device).toBe(device);
        expect(parsed.cacheMaxBytes).toBeGreaterThan(0);
      });

      it('takes the token from the Secret that KEDA reads too, and names the pod as the runner', () => {
        const ref = env.get('POLYPRUNE_RUNNER_TOKEN').valueFrom.secretKeyRef;
        const secret = one('Secret', ref.name);
        expect(Object.keys(secret.stringData)).toContain(ref.key);
        const auth = one('TriggerAuthentication', so.spec.triggers[0].authenticationRef.name);
        expect(auth.spec.secretTargetRef).toEqual([{ parameter: 'token', name: ref.name, key: ref.key }]);
        expect(env.get('POLYPRUNE_RUNNER_ID').valueFrom.fieldRef.fieldPath).toBe('metadata.name');
      });

      it("mounts a sized work volume where the image's POLYPRUNE_WORKDIR points, larger than the cache budget", () => {
        const workdir = imageEnv.POLYPRUNE_WORKDIR;
        expect(workdir).toBe('/var/cache/polyprune');
        expect(dockerfile).toContain(`VOLUME ["${workdir}"]`);
        expect(env.get('POLYPRUNE_WORKDIR')?.value ?? workdir).toBe(workdir);
        const mount = c.volumeMounts.find((m: any) => m.mountPath === workdir);
        expect(mount).toBeDefined();
        const vol = pod.volumes.find((v: any) => v.name === mount.name);
        const size = String(vol.ephemeral.volumeClaimTemplate.spec.resources.requests.storage);
        const gib = Number(/^(\d+)Gi$/.exec(size)![1]);
        expect(gib * 2 ** 30).toBeGreaterThan(Number(env.get('POLYPRUNE_CACHE_MAX_BYTES').value));
      });

      it('gives a step time to finish on SIGTERM: the grace period of docker stop, and a preStop that sends the signal', () => {
        expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(stopTimeout);
        expect(dockerfile).toContain('STOPSIGNAL SIGTERM');
        expect(c.lifecycle.preStop.exec.command.join(' ')).toMatch(/kill -TERM 1$/);
        // The runner hands the job back on SIGTERM (what the preStop and the kubelet send).
        expect(read('gpu-runner/src/service/main.ts')).toMatch(/'SIGTERM', 'SIGINT'/);
      });

      it(device === 'cuda' ? 'holds exactly one GPU' : 'asks for no GPU', () => {
        const gpu = (r: Record<string, unknown> | undefined) => r?.['nvidia.com/gpu'];
        if (device === 'cuda') {
          expect(gpu(c.resources.limits)).toBe('1');
          expect(gpu(c.resources.requests)).toBe('1');
        } else {
          expect(gpu(c.resources.limits)).toBeUndefined();
          expect(gpu(c.resources.requests)).toBeUndefined();
        }
        // The runner sizes its batches from the cgroup memory limit.
        expect(c.resources.limits.memory).toMatch(/^\d+Gi$/);
      });

      it(`is scaled by KEDA from 0 on GET /v1/runner/queue → byDevice.${device}, with bearer auth`, () => {
        expect(so.spec.scaleTargetRef.name).toBe(dep.metadata.name);
        expect(dep.spec.replicas).toBe(0);
        expect(so.spec.minReplicaCount).toBe(0);
        expect(so.spec.maxReplicaCount).toBeGreaterThan(0);
        expect(so.spec.triggers).toHaveLength(1);
        const t = so.spec.triggers[0];
        expect(t.type).toBe('metrics-api');
        expect(t.metadata.authMode).toBe('bearer');
        expect(t.metadata.url).toBe(`${env.get('POLYPRUNE_API').value}/v1/runner/queue`);
        expect(t.metadata.valueLocation).toBe(`byDevice.${device}`);
        expect(t.metadata.targetValue).toBe('1');
        // The value is where the worker's response schema puts it.
        const sample = runnerQueue.parse({ queued: 3, waiting: 1, running: 2, leased: 2, oldestQueuedSeconds: 9, byDevice: { cuda: 4, cpu: 3 } });
        const at = t.metadata.valueLocation.split('.').reduce((o: any, k: string) => o?.[k], sample);
        expect(at).toBe(sample.byDevice[device]);
      });
    });
  }

  it('the queue URL path is a route of the OpenAPI document, for runner tokens, answering RunnerQueue', () => {
    const doc = openApiDocument(app, 'test') as any;
    const op = doc.paths['/v1/runner/queue']?.get;
    expect(op).toBeDefined();
    expect(op.security).toEqual([{ bearer: ['runner'] }]);
    expect(op['x-scope']).toBe('runner');
    expect(op.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/RunnerQueue');
    for (const so of all.filter((d) => d.kind === 'ScaledObject')) expect(new URL(so.spec.triggers[0].metadata.url).pathname).toBe('/v1/runner/queue');
  });
});
