/**
 * deploy/k8s/kserve: cityseg as a KServe InferenceService (custom predictor container, Open Inference Protocol) with
 * its models file in a ConfigMap. The manifests' invariants, checked against the server's own settings table, its
 * models-file parser and its routes, as test/deploy-k8s.test.ts does for the plain Deployment.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { buildApp } from '../server/app.js';
import { loadConfig, SETTINGS } from '../server/config.js';
import { parseModelsFile } from '../server/models-file.js';

const KSERVE_DIR = fileURLToPath(new URL('../deploy/k8s/kserve/', import.meta.url));

/* eslint-disable @typescript-eslint/no-explicit-any */
type Manifest = Record<string, any>;

function documentsOf(file: string): Manifest[] {
  const documents = parseAllDocuments(readFileSync(join(KSERVE_DIR, file), 'utf8'));
  if (!Array.isArray(documents)) throw new Error(`${file}: empty YAML stream`);
  return documents.map((document) => {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0].message}`);
    return document.toJS() as Manifest;
  });
}

const files = readdirSync(KSERVE_DIR).filter((name) => /\.ya?ml$/.test(name) && name !== 'kustomization.yaml');
const manifests = files.flatMap(documentsOf);
const only = (kind: string): Manifest => {
  const found = manifests.filter((manifest) => manifest.kind === kind);
  assert.equal(found.length, 1, `expected exactly one ${kind} in deploy/k8s/kserve, found ${found.length}`);
  return found[0];
};

const service = only('InferenceService');
const modelsMap = only('ConfigMap');
const predictor = service.spec.predictor;
const container = predictor.containers[0];
/** The container's environment as the server sees it (values only; Downward API entries are checked apart). */
const env: Record<string, string> = Object.fromEntries(
  container.env.filter((e: Manifest) => e.value !== undefined).map((e: Manifest) => [e.name, String(e.value)]),
);
const serverConfig = loadConfig(env);

/** Kubernetes quantity → number (bytes for memory, cores for CPU). */
function quantity(raw: string | number): number {
  const units: Record<string, number> = { '': 1, m: 1e-3, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };
  const match = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(String(raw));
  if (!match || !(match[2] in units)) throw new Error(`not a Kubernetes quantity: '${raw}'`);
  return Number(match[1]) * units[match[2]];
}

test('the kustomization lists the InferenceService and the models ConfigMap, and nothing else', () => {
  const [kustomization] = documentsOf('kustomization.yaml');
  assert.deepEqual([...kustomization.resources].sort(), [...files].sort());
  assert.deepEqual(manifests.map((manifest) => manifest.kind).sort(), ['ConfigMap', 'InferenceService']);
});

test('a KServe v1beta1 InferenceService with one custom predictor container, named as KServe requires', () => {
  assert.equal(service.apiVersion, 'serving.kserve.io/v1beta1');
  assert.equal(predictor.containers.length, 1);
  // KServe treats any other name as a sidecar and adds an empty predictor of its own.
  assert.equal(container.name, 'kserve-container');
  assert.equal(predictor.model, undefined, 'a custom container, not a model format with a runtime');
  assert.equal(container.ports[0].containerPort, serverConfig.port);
  assert.equal(serverConfig.host, '0.0.0.0', 'in a pod the server must listen on the pod address');
});

test("the container's environment holds only server settings, each valid, with pixel work off the event loop", () => {
  const known = new Set(Object.values(SETTINGS).map((spec) => spec.env));
  for (const { name } of container.env) assert.ok(known.has(name), `${name} is not a server setting`);
  assert.ok(serverConfig.workers >= 1, 'inference on the main thread would stall the liveness probe');
});

test('the models file is the mounted ConfigMap, and the server accepts it: named models, one default per task', () => {
  const mount = container.volumeMounts.find((m: Manifest) => serverConfig.models?.startsWith(`${m.mountPath}/`));
  assert.ok(mount, `CITYSEG_MODELS=${serverConfig.models} is not under a mounted volume`);
  const volume = predictor.volumes.find((v: Manifest) => v.name === mount.name);
  assert.equal(volume.configMap?.name, modelsMap.metadata.name);
  assert.equal(mount.readOnly, true);
  const key = posix.relative(mount.mountPath, serverConfig.models as string);
  assert.ok(key in modelsMap.data, `the ConfigMap has no key "${key}"`);
  const entries = parseModelsFile(serverConfig.models as string, modelsMap.data[key], serverConfig);
  assert.deepEqual(
    entries.map((entry) => entry.name),
    ['voc', 'imagenet', 'imagenet-small'],
  );
  const defaults = entries.filter((entry) => entry.default).map((entry) => entry.name);
  assert.deepEqual(defaults, ['voc', 'imagenet']);
});

test('probes use the protocol health routes, which answer live at once and ready only once the models are', async () => {
  assert.equal(container.livenessProbe.httpGet.path, '/v2/health/live');
  assert.equal(container.readinessProbe.httpGet.path, '/v2/health/ready');
  assert.equal(container.startupProbe.httpGet.path, '/v2/health/live');
  for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
    assert.equal(probe.httpGet.port, serverConfig.port);
  }
  // The routes, before any model is loaded (the file itself is read at start-up, not by the app).
  const { CITYSEG_MODELS: _file, ...settings } = env;
  const app = await buildApp(loadConfig({ ...settings, LOG_LEVEL: 'silent' }));
  try {
    const live = await app.inject({ method: 'GET', url: container.livenessProbe.httpGet.path });
    assert.equal(live.statusCode, 200);
    const ready = await app.inject({ method: 'GET', url: container.readinessProbe.httpGet.path });
    assert.equal(ready.statusCode, 503, 'no model loaded yet: the pod must get no traffic');
  } finally {
    await app.close();
  }
});

test("the memory budget is the container's limit (Downward API), and the grace period outlasts the drain", () => {
  const budget = container.env.find((e: Manifest) => e.name === 'CITYSEG_MEMORY_BUDGET');
  assert.deepEqual(budget.valueFrom.resourceFieldRef, { containerName: 'kserve-container', resource: 'limits.memory' });
  assert.ok(quantity(container.resources.limits.memory) >= quantity(container.resources.requests.memory));
  const [command, seconds] = container.lifecycle.preStop.exec.command;
  assert.equal(command, 'sleep');
  assert.ok(predictor.terminationGracePeriodSeconds > Number(seconds) + serverConfig.shutdownTimeoutMs / 1000);
});

test('the container is locked down like the plain Deployment: non-root, read-only root, no capabilities', () => {
  const context = container.securityContext;
  assert.equal(context.runAsNonRoot, true);
  assert.equal(context.readOnlyRootFilesystem, true);
  assert.equal(context.allowPrivilegeEscalation, false);
  assert.deepEqual(context.capabilities.drop, ['ALL']);
  assert.equal(predictor.automountServiceAccountToken, false);
  // A read-only root: the cache (presets) and /tmp are size-limited emptyDirs.
  for (const path of [serverConfig.cacheDir, '/tmp']) {
    const mount = container.volumeMounts.find((m: Manifest) => m.mountPath === path);
    assert.ok(mount, `${path} is not mounted`);
    const volume = predictor.volumes.find((v: Manifest) => v.name === mount.name);
    assert.ok(volume.emptyDir?.sizeLimit, `${path} needs an emptyDir with a sizeLimit`);
  }
});
