import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { buildApp } from '../server/app.js';
import { loadConfig, SETTINGS } from '../server/config.js';

const K8S_DIR = fileURLToPath(new URL('../deploy/k8s/', import.meta.url));

// Loose shapes: the test reads only the fields it checks and asserts their presence itself.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Manifest = Record<string, any>;

interface ManifestFile {
  file: string;
  manifest: Manifest;
}

function readManifests(): ManifestFile[] {
  const files = readdirSync(K8S_DIR).filter((name) => /\.ya?ml$/.test(name) && name !== 'kustomization.yaml');
  return files.flatMap((file) => {
    const documents = parseAllDocuments(readFileSync(join(K8S_DIR, file), 'utf8'));
    if (!Array.isArray(documents)) throw new Error(`${file}: empty YAML stream`);
    return documents.map((document) => {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0].message}`);
      return { file, manifest: document.toJS() as Manifest };
    });
  });
}

const manifests = readManifests();

function only(kind: string): Manifest {
  const found = manifests.filter(({ manifest }) => manifest.kind === kind);
  assert.equal(found.length, 1, `expected exactly one ${kind} in deploy/k8s, found ${found.length}`);
  return found[0].manifest;
}

const deployment = only('Deployment');
const service = only('Service');
const hpa = only('HorizontalPodAutoscaler');
const configMap = only('ConfigMap');
const podSpec = deployment.spec.template.spec;
const container = podSpec.containers.find((c: Manifest) => c.name === 'cityseg');
const serverConfig = loadConfig(configMap.data);

/** Kubernetes quantity → number: CPU in cores (`2`, `500m`), memory in bytes (`1Gi`, `512M`). */
function quantity(raw: string | number): number {
  const units: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };
  const match = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(String(raw));
  if (!match || !(match[2] in units)) throw new Error(`not a Kubernetes quantity: '${raw}'`);
  return Number(match[1]) * units[match[2]];
}

/** A probe's or Service's port: a number, or the name of one of the container's ports. */
function containerPort(port: string | number): number {
  if (typeof port === 'number') return port;
  const named = container.ports.find((p: Manifest) => p.name === port);
  assert.ok(named, `no container port named '${port}'`);
  return named.containerPort;
}

/** Seconds the preStop hook waits: `exec: sleep N` or the native `sleep: {seconds: N}` action. */
function preStopSeconds(hook: Manifest): number {
  if (hook.sleep) return hook.sleep.seconds;
  const [command, seconds] = hook.exec.command;
  assert.equal(command, 'sleep', `preStop must sleep, runs '${hook.exec.command.join(' ')}'`);
  return Number(seconds);
}

test('kustomization lists every manifest in deploy/k8s and nothing else', () => {
  const kustomization = parseAllDocuments(readFileSync(join(K8S_DIR, 'kustomization.yaml'), 'utf8'));
  assert.ok(Array.isArray(kustomization) && kustomization.length === 1);
  const listed = (kustomization[0].toJS() as Manifest).resources as string[];
  const onDisk = [...new Set(manifests.map(({ file }) => file))];
  assert.deepEqual([...listed].sort(), [...onDisk].sort());
  assert.deepEqual(
    [...new Set(manifests.map(({ manifest }) => manifest.kind))].sort(),
    ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service'],
  );
});

test('the container listens on the server default port 8080', () => {
  assert.equal(SETTINGS.port.fallback, 8080);
  assert.equal(containerPort('http'), 8080);
  assert.equal(serverConfig.port, 8080, 'the ConfigMap must not move the server off the container port');
});

test('readiness probes /readyz and liveness probes /healthz on the container port', () => {
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
  assert.equal(containerPort(container.readinessProbe.httpGet.port), 8080);
  assert.equal(container.livenessProbe.httpGet.path, '/healthz');
  assert.equal(containerPort(container.livenessProbe.httpGet.port), 8080);
  if (container.startupProbe) {
    assert.equal(container.startupProbe.httpGet.path, '/healthz');
    assert.equal(containerPort(container.startupProbe.httpGet.port), 8080);
  }
});

test('the probe paths are the server routes: liveness answers at once, readiness waits for the models', async () => {
  const app = await buildApp(loadConfig({ ...configMap.data, LOG_LEVEL: 'silent' }));
  try {
    const live = await app.inject({ method: 'GET', url: container.livenessProbe.httpGet.path });
    assert.deepEqual([live.statusCode, live.json()], [200, { status: 'ok' }]);
    // No models served yet: readiness must keep the pod out of the Service.
    const ready = await app.inject({ method: 'GET', url: container.readinessProbe.httpGet.path });
    assert.equal(ready.statusCode, 503);
  } finally {
    await app.close();
  }
});

test('resources fit a 2-core service: requests 2 CPU / 1 GiB, limits 2 CPU / 2 GiB', () => {
  const { requests, limits } = container.resources;
  assert.equal(quantity(requests.cpu), 2);
  assert.equal(quantity(requests.memory), 1024 ** 3);
  assert.equal(quantity(limits.cpu), 2);
  assert.equal(quantity(limits.memory), 2 * 1024 ** 3);
  const manifestText = readFileSync(join(K8S_DIR, 'deployment.yaml'), 'utf8');
  assert.match(manifestText, /#.*benchmark/i, 'a comment must say the benchmark justifies the resources');
});

test("the memory budget is the container's memory limit, handed over by the Downward API", () => {
  const budget = container.env.find((e: Manifest) => e.name === 'CITYSEG_MEMORY_BUDGET');
  assert.deepEqual(budget.valueFrom.resourceFieldRef, { containerName: 'cityseg', resource: 'limits.memory' });
  // What Kubernetes hands over (the limit in bytes) is a value the setting parses to the same number.
  const limitBytes = quantity(container.resources.limits.memory);
  assert.equal(loadConfig({ CITYSEG_MEMORY_BUDGET: String(limitBytes) }).memoryBudget, limitBytes);
});

test('termination grace outlasts the preStop sleep plus the server shutdown timeout', () => {
  const sleepSeconds = preStopSeconds(container.lifecycle.preStop);
  assert.ok(sleepSeconds > 0, 'preStop must sleep while endpoints are removed');
  const shutdownSeconds = serverConfig.shutdownTimeoutMs / 1000;
  assert.ok(
    podSpec.terminationGracePeriodSeconds > sleepSeconds + shutdownSeconds,
    `grace ${podSpec.terminationGracePeriodSeconds}s <= preStop ${sleepSeconds}s + shutdown ${shutdownSeconds}s`,
  );
});

test('the ConfigMap holds only server settings, each valid for server/config.ts', () => {
  const knownEnv = new Set(Object.values(SETTINGS).map((spec) => spec.env));
  for (const [key, value] of Object.entries(configMap.data as Record<string, unknown>)) {
    assert.ok(knownEnv.has(key), `ConfigMap key ${key} is not a server setting`);
    assert.equal(typeof value, 'string', `ConfigMap ${key} must be a string, got ${typeof value}`);
  }
  assert.deepEqual(
    container.envFrom.map((source: Manifest) => source.configMapRef?.name),
    [configMap.metadata.name],
  );
  // The cache dir it names is a writable volume (the root filesystem is read-only).
  const mountPaths = container.volumeMounts.map((m: Manifest) => m.mountPath);
  assert.ok(mountPaths.includes(serverConfig.cacheDir), `no volume mounted at ${serverConfig.cacheDir}`);
});

test('the pod runs as a non-root user', () => {
  assert.equal(podSpec.securityContext.runAsNonRoot, true);
  assert.notEqual(podSpec.securityContext.runAsUser, 0);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
});

test('the Service maps port 80 to the container port 8080 of the Deployment pods', () => {
  const [port] = service.spec.ports;
  assert.equal(service.spec.ports.length, 1);
  assert.equal(port.port, 80);
  assert.equal(containerPort(port.targetPort), 8080);
  assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
  for (const [label, value] of Object.entries(deployment.spec.selector.matchLabels)) {
    assert.equal(deployment.spec.template.metadata.labels[label], value, `pod template lacks selector label ${label}`);
  }
});

test('the HorizontalPodAutoscaler (autoscaling/v2) scales the Deployment on CPU utilisation', () => {
  assert.equal(hpa.apiVersion, 'autoscaling/v2');
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
  const cpu = hpa.spec.metrics.find((m: Manifest) => m.type === 'Resource' && m.resource.name === 'cpu');
  assert.ok(cpu, 'no CPU metric');
  assert.equal(cpu.resource.target.type, 'Utilization');
  assert.ok(cpu.resource.target.averageUtilization > 0 && cpu.resource.target.averageUtilization <= 100);
  assert.ok(hpa.spec.minReplicas >= 1 && hpa.spec.minReplicas <= hpa.spec.maxReplicas);
});

test('the PodDisruptionBudget selects the Deployment pods', () => {
  const pdb = only('PodDisruptionBudget');
  assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
  assert.ok(pdb.spec.minAvailable < hpa.spec.minReplicas, 'minAvailable must leave room to evict a pod');
});

test('the pod listens on every interface: the ConfigMap sets HOST=0.0.0.0 over the loopback default', () => {
  assert.equal(SETTINGS.host.fallback, '127.0.0.1');
  assert.equal(configMap.data.HOST, '0.0.0.0');
  assert.equal(serverConfig.host, '0.0.0.0');
});

test('the container is locked down: non-root, read-only root, no capabilities, RuntimeDefault seccomp, no escalation', () => {
  // A container's own securityContext wins over the pod's; check what applies to the container.
  const effective = { ...podSpec.securityContext, ...container.securityContext };
  assert.equal(effective.runAsNonRoot, true);
  assert.notEqual(effective.runAsUser, 0);
  assert.equal(effective.readOnlyRootFilesystem, true);
  assert.equal(effective.allowPrivilegeEscalation, false);
  assert.equal(effective.privileged ?? false, false);
  assert.deepEqual(effective.capabilities.drop, ['ALL']);
  assert.equal(effective.capabilities.add, undefined);
  assert.equal(effective.seccompProfile.type, 'RuntimeDefault');
  assert.equal(podSpec.automountServiceAccountToken, false);
  for (const hostField of ['hostNetwork', 'hostPID', 'hostIPC']) assert.notEqual(podSpec[hostField], true, hostField);
});

test('with a read-only root, the cache and /tmp are emptyDir volumes with a size limit', () => {
  for (const mountPath of [serverConfig.cacheDir, '/tmp']) {
    const mount = container.volumeMounts.find((m: Manifest) => m.mountPath === mountPath);
    assert.ok(mount, `nothing mounted at ${mountPath}`);
    assert.notEqual(mount.readOnly, true, `${mountPath} must be writable`);
    const volume = podSpec.volumes.find((v: Manifest) => v.name === mount.name);
    assert.ok(volume?.emptyDir, `${mountPath} must be an emptyDir`);
    assert.ok(quantity(volume.emptyDir.sizeLimit) > 0, `${mountPath} needs a sizeLimit`);
  }
});

test('the pod does pixel work off the event loop: at least one worker thread, so probes answer during inference', () => {
  assert.ok(serverConfig.workers >= 1, `CITYSEG_WORKERS=${serverConfig.workers} runs inference on the main thread and stalls /healthz`);
});
