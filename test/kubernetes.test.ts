/**
 * Offline tests of the Kubernetes manifests (deploy/kubernetes): every overlay and supported component
 * combination is rendered with `kubectl kustomize`, parsed, schema-validated (kubernetes-models for
 * built-in kinds, the Prometheus Operator and KEDA model packages for their CRDs, structural checks for
 * Strimzi and CloudNativePG CRs, which have no model package), and checked against the checklist of
 * spec/kubernetes.md §5.2. Each test name starts with the checklist numbers it proves.
 *
 * Without kubectl the tests are skipped with the reason printed, except under CI=true, where they fail.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseEnrichmentConfig } from '../src/enrich/enrichments/load.js';
import { parseResolverConfig } from '../src/iglu/resolver-config.js';
import { furrowConfigSchema } from '../src/runtime/config.js';
import { createMetrics } from '../src/runtime/metrics.js';
import { kafkaGroupId, parseKafkaStreamsConfig } from '../src/streams/kafka/config.js';

// biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects are untyped JSON
type Obj = Record<string, any>;

const ROOT = resolve(process.cwd(), 'deploy', 'kubernetes');
const OVERLAYS = ['dev', 'prod', 'prod-drain-spool'] as const;
/** extra supported combinations: overlay + components, rendered through a temporary kustomization */
const COMBOS: Record<string, { base: string; components: string[] }> = {
  'dev+monitoring': { base: 'overlays/dev', components: ['components/monitoring'] },
};
/** Grafana's data-source variable reference, `${datasource}` */
const TEMPLATED_DS = '$' + '{datasource}';
const KUBECTL_OLD = '/usr/lib/google-cloud-sdk/bin/kubectl.1.29';

function kubectlAvailable(): string | undefined {
  const r = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `kubectl not runnable (${r.error?.message ?? r.stderr.trim()})`;
}

const missing = kubectlAvailable();

function skipIfNoKubectl(t: TestContext): boolean {
  if (missing === undefined) return false;
  if (process.env.CI === 'true') assert.fail(`${missing}; CI must run the manifest tests`);
  process.stderr.write(`skipping "${t.name}": ${missing}\n`);
  t.skip(missing);
  return true;
}

interface Render {
  name: string;
  text: string;
  stderr: string;
  docs: Obj[];
}

const renders = new Map<string, Render>();
let comboDir = '';

function renderDir(name: string, dir: string, kubectl = 'kubectl'): Render {
  const r = spawnSync(kubectl, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${r.stderr}`);
  const docs = parseAllDocuments(r.stdout).map((d) => {
    if (d.errors.length > 0) throw new Error(`${name}: YAML error ${d.errors[0].message}`);
    return d.toJS() as Obj;
  });
  return { name, text: r.stdout, stderr: r.stderr, docs: docs.filter((d) => d !== null) };
}

before(() => {
  if (missing !== undefined) return;
  for (const o of OVERLAYS) renders.set(o, renderDir(o, join(ROOT, 'overlays', o)));
  comboDir = mkdtempSync(join(tmpdir(), 'furrow-k8s-combo-'));
  for (const [name, c] of Object.entries(COMBOS)) {
    const dir = join(comboDir, name.replace(/\W/g, '-'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ${relative(dir, join(ROOT, c.base))}
components:
${c.components.map((p) => `  - ${relative(dir, join(ROOT, p))}`).join('\n')}
`,
    );
    renders.set(name, renderDir(name, dir));
  }
});

after(() => {
  if (comboDir !== '') rmSync(comboDir, { recursive: true, force: true });
});

// ---------- helpers over rendered objects ----------

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'Job', 'CronJob', 'DaemonSet']);

function all(): Render[] {
  return [...renders.values()];
}

function ofKind(r: Render, ...kinds: string[]): Obj[] {
  return r.docs.filter((d) => kinds.includes(d.kind));
}

function find(r: Render, kind: string, name: string): Obj | undefined {
  return r.docs.find((d) => d.kind === kind && d.metadata?.name === name);
}

function podTemplate(w: Obj): Obj {
  return w.kind === 'CronJob' ? w.spec.jobTemplate.spec.template : w.spec.template;
}

function workloads(r: Render): Obj[] {
  return r.docs.filter((d) => WORKLOAD_KINDS.has(d.kind));
}

function containers(w: Obj): Obj[] {
  return podTemplate(w).spec.containers as Obj[];
}

function allContainers(w: Obj): Obj[] {
  const s = podTemplate(w).spec;
  return [...(s.initContainers ?? []), ...s.containers];
}

function id(o: Obj): string {
  return `${o.kind}/${o.metadata.name}`;
}

function matches(selector: Obj | undefined, labels: Obj | undefined): boolean {
  if (selector === undefined || selector === null) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of (selector.matchExpressions ?? []) as Obj[]) {
    const has = e.key in l;
    if (e.operator === 'In' && !(has && e.values.includes(l[e.key]))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(l[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** Service selectors are plain maps */
function mapMatches(sel: Obj | undefined, labels: Obj | undefined): boolean {
  return sel !== undefined && matches({ matchLabels: sel }, labels);
}

function env(c: Obj, name: string): string | undefined {
  return (c.env as Obj[] | undefined)?.find((e) => e.name === name)?.value;
}

/** the Furrow config JSON a pod mounts (from the rendered ConfigMap) */
function furrowConfigOf(r: Render, w: Obj): Obj | undefined {
  const vol = (podTemplate(w).spec.volumes as Obj[] | undefined)?.find((v) =>
    v.configMap?.name?.startsWith('furrow-config'),
  );
  if (vol === undefined) return undefined;
  const cm = find(r, 'ConfigMap', vol.configMap.name);
  assert.ok(cm, `${id(w)}: ConfigMap ${vol.configMap.name} is in the render`);
  return JSON.parse(cm.data['furrow.json']) as Obj;
}

function quantityBytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  assert.ok(m, `quantity ${q}`);
  const mult: Record<string, number> = {
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(m[1]) * (m[2] === undefined ? 1 : mult[m[2]]);
}

function isHttpServing(w: Obj): boolean {
  return (w.kind === 'Deployment' || w.kind === 'StatefulSet') && containers(w).some((c) => c.ports?.length);
}

function autoscaled(r: Render): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const a of ofKind(r, 'HorizontalPodAutoscaler', 'ScaledObject')) {
    const key = `${a.spec.scaleTargetRef.kind}/${a.spec.scaleTargetRef.name}`;
    out.set(key, [...(out.get(key) ?? []), id(a)]);
  }
  return out;
}

// ---------- tests ----------

describe('Kubernetes manifests (offline)', () => {
  it('#1 every overlay and supported component combination renders with exit 0 and no warnings', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      assert.ok(r.docs.length > 5, `${r.name}: rendered objects`);
      assert.equal(r.stderr.trim(), '', `${r.name}: kustomize printed warnings: ${r.stderr}`);
    }
  });

  it('#2 the render is identical with kubectl 1.29 (kustomize v5.0.4) and the default kubectl', (t) => {
    if (skipIfNoKubectl(t)) return;
    if (!existsSync(KUBECTL_OLD)) {
      const reason = `${KUBECTL_OLD} not installed (google-cloud-cli ships it)`;
      process.stderr.write(`skipping "${t.name}": ${reason}\n`);
      t.skip(reason);
      return;
    }
    for (const o of OVERLAYS) {
      const old = renderDir(o, join(ROOT, 'overlays', o), KUBECTL_OLD);
      assert.equal(old.text, renders.get(o)?.text, `${o}: render differs under kubectl 1.29`);
    }
  });

  it('#3 every object validates: kubernetes-models (built-ins), Prometheus Operator and KEDA models, structural for Strimzi/CNPG', async (t) => {
    if (skipIfNoKubectl(t)) return;
    const STRUCTURAL = new Set(['kafka.strimzi.io/v1beta2', 'postgresql.cnpg.io/v1']);
    for (const r of all()) {
      for (const d of r.docs) {
        const [group, version] = String(d.apiVersion).includes('/')
          ? d.apiVersion.split('/')
          : ['', d.apiVersion];
        let mod: string;
        if (STRUCTURAL.has(d.apiVersion)) {
          assert.ok(typeof d.metadata?.name === 'string' && typeof d.spec === 'object', `${r.name} ${id(d)}`);
          continue;
        } else if (group === 'monitoring.coreos.com')
          mod = `@kubernetes-models/prometheus-operator/${group}/${version}/${d.kind}`;
        else if (group === 'keda.sh') mod = `@kubernetes-models/keda/${group}/${version}/${d.kind}`;
        else
          mod =
            group === ''
              ? `kubernetes-models/${version}/${d.kind}`
              : `kubernetes-models/${group}/${version}/${d.kind}`;
        const m = (await import(mod)) as Obj;
        const Model = m[d.kind] ?? m.default;
        assert.ok(Model, `${r.name} ${id(d)}: no model ${mod}`);
        try {
          new Model(d).validate();
        } catch (e) {
          assert.fail(`${r.name} ${id(d)} (${d.apiVersion}): ${(e as Error).message}`);
        }
      }
    }
  });

  it('#5 no feature-gated field: no rollingUpdate.maxUnavailable on StatefulSets, no lifecycle sleep', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      for (const s of ofKind(r, 'StatefulSet')) {
        assert.equal(s.spec.updateStrategy?.rollingUpdate?.maxUnavailable, undefined, `${r.name} ${id(s)}`);
      }
      for (const w of workloads(r)) {
        for (const c of allContainers(w)) {
          assert.equal(
            c.lifecycle?.preStop?.sleep,
            undefined,
            `${r.name} ${id(w)}/${c.name}: preStop.sleep is gated on 1.29`,
          );
        }
      }
    }
  });

  it('#6 names are DNS-1123 labels; StatefulSet pod and PVC names fit 63 characters', (t) => {
    if (skipIfNoKubectl(t)) return;
    const label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
    for (const r of all()) {
      for (const d of r.docs) {
        assert.ok(d.metadata.name.length <= 63 && label.test(d.metadata.name), `${r.name} ${id(d)}: name`);
      }
      for (const w of workloads(r)) {
        for (const c of allContainers(w))
          assert.ok(label.test(c.name) && c.name.length <= 63, `${id(w)}: container ${c.name}`);
      }
      for (const s of ofKind(r, 'StatefulSet')) {
        const pod = `${s.metadata.name}-99`;
        assert.ok(pod.length <= 63, `${id(s)}: pod name`);
        for (const v of s.spec.volumeClaimTemplates ?? []) {
          assert.ok(`${v.metadata.name}-${pod}`.length <= 63, `${id(s)}: PVC name of ${v.metadata.name}`);
        }
      }
    }
  });

  it('#7 images pinned to a version tag (never latest), pulled IfNotPresent', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      for (const w of workloads(r)) {
        for (const c of allContainers(w)) {
          assert.match(
            c.image,
            /^[a-z0-9./-]+(:[A-Za-z0-9._-]+)(@sha256:[0-9a-f]{64})?$/,
            `${id(w)}/${c.name}: ${c.image}`,
          );
          assert.doesNotMatch(c.image, /:latest(@|$)/, `${id(w)}/${c.name}`);
          assert.match(c.image, /:\d+\.\d+/, `${id(w)}/${c.name}: a version tag`);
          assert.equal(c.imagePullPolicy, 'IfNotPresent', `${id(w)}/${c.name}`);
        }
      }
    }
  });

  it('#8 selectors are a subset of the pod template labels and use no version label', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      for (const w of ofKind(r, 'Deployment', 'StatefulSet')) {
        const labels = w.spec.template.metadata.labels;
        assert.ok(matches(w.spec.selector, labels), `${r.name} ${id(w)}: selector ⊄ template labels`);
        for (const k of Object.keys(w.spec.selector.matchLabels ?? {})) {
          assert.ok(!/version/.test(k), `${id(w)}: selector uses ${k}`);
        }
      }
    }
  });

  it('#11 every container requests cpu and memory and limits memory', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      for (const w of workloads(r)) {
        for (const c of allContainers(w)) {
          const res = c.resources ?? {};
          assert.ok(
            res.requests?.cpu && res.requests?.memory && res.limits?.memory,
            `${r.name} ${id(w)}/${c.name}`,
          );
        }
      }
    }
  });

  it('#12 #13 #14 probes: readiness + liveness on different paths, liveness on /health/live, startup ≥ 5 min on StatefulSets', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      for (const w of ofKind(r, 'Deployment', 'StatefulSet')) {
        for (const c of containers(w)) {
          assert.ok(c.readinessProbe && c.livenessProbe, `${id(w)}/${c.name}: probes`);
          assert.notEqual(c.readinessProbe.httpGet.path, c.livenessProbe.httpGet.path, `#12 ${id(w)}`);
          assert.equal(c.livenessProbe.httpGet.path, '/health/live', `#14 ${id(w)}`);
          assert.equal(c.readinessProbe.httpGet.path, '/health/ready', `${id(w)}`);
          if (w.kind === 'StatefulSet') {
            const p = c.startupProbe;
            assert.ok(p, `#13 ${id(w)}: startupProbe`);
            assert.ok(
              (p.periodSeconds ?? 10) * (p.failureThreshold ?? 3) >= 300,
              `#13 ${id(w)}: startup budget`,
            );
          }
        }
      }
    }
  });

  it('#15 #16 #18 restricted security: non-root numeric user ≥ 10000, seccomp, no escalation, read-only root, drop ALL; writable paths are volumes', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      const ns = find(r, 'Namespace', 'furrow');
      assert.equal(ns?.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted', '#18');
      for (const w of workloads(r)) {
        const spec = podTemplate(w).spec;
        const sc = spec.securityContext ?? {};
        assert.equal(sc.runAsNonRoot, true, `#15 ${id(w)}`);
        assert.ok(Number.isInteger(sc.runAsUser) && sc.runAsUser >= 10000, `#15 ${id(w)}: runAsUser`);
        assert.equal(sc.seccompProfile?.type, 'RuntimeDefault', `#15 ${id(w)}`);
        for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) assert.ok(!spec[k], `#18 ${id(w)}: ${k}`);
        const volumes = new Map<string, Obj>((spec.volumes ?? []).map((v: Obj) => [v.name, v]));
        const vcts = new Set<string>(
          (w.kind === 'StatefulSet' ? (w.spec.volumeClaimTemplates ?? []) : []).map(
            (v: Obj) => v.metadata.name,
          ),
        );
        for (const v of volumes.values()) assert.equal(v.hostPath, undefined, `#18 ${id(w)}: hostPath`);
        for (const c of allContainers(w)) {
          const csc = c.securityContext ?? {};
          assert.equal(csc.allowPrivilegeEscalation, false, `#16 ${id(w)}/${c.name}`);
          assert.equal(csc.readOnlyRootFilesystem, true, `#16 ${id(w)}/${c.name}`);
          assert.deepEqual(csc.capabilities?.drop, ['ALL'], `#16 ${id(w)}/${c.name}`);
          assert.ok(!csc.privileged, `#18 ${id(w)}/${c.name}`);
          for (const m of c.volumeMounts ?? []) {
            if (m.readOnly) continue;
            const v = volumes.get(m.name);
            assert.ok(
              vcts.has(m.name) || v?.emptyDir !== undefined || v?.persistentVolumeClaim !== undefined,
              `#16 ${id(w)}/${c.name}: writable mount ${m.mountPath} must be an emptyDir or a PVC`,
            );
          }
          assert.ok(
            (c.volumeMounts ?? []).some((m: Obj) => m.mountPath === '/tmp'),
            `#16 ${id(w)}/${c.name}: /tmp is a volume`,
          );
        }
      }
    }
  });

  it('#17 service-account tokens are mounted only in the DuckDB backup pod (it pauses the StatefulSet)', (t) => {
    if (skipIfNoKubectl(t)) return;
    const API_CLIENTS = new Set(['CronJob/furrow-backup-duckdb']);
    for (const r of all()) {
      for (const w of workloads(r)) {
        const auto = podTemplate(w).spec.automountServiceAccountToken;
        if (API_CLIENTS.has(id(w))) assert.equal(auto, true, id(w));
        else assert.equal(auto, false, `${r.name} ${id(w)}: automountServiceAccountToken must be false`);
      }
    }
  });

  it('#19 #22 multi-replica workloads have exactly one PDB (maxUnavailable); autoscaled ones omit replicas, one autoscaler each', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      const scaled = autoscaled(r);
      for (const [target, by] of scaled)
        assert.equal(by.length, 1, `#22 ${r.name} ${target}: ${by.join(', ')}`);
      for (const w of ofKind(r, 'Deployment', 'StatefulSet')) {
        const isScaled = scaled.has(id(w));
        if (isScaled) assert.equal(w.spec.replicas, undefined, `#22 ${id(w)}: replicas must be omitted`);
        const multi = isScaled || (w.spec.replicas ?? 1) > 1;
        const pdbs = ofKind(r, 'PodDisruptionBudget').filter((p) =>
          matches(p.spec.selector, w.spec.template.metadata.labels),
        );
        if (!multi) continue;
        assert.equal(pdbs.length, 1, `#19 ${r.name} ${id(w)}: PDBs`);
        assert.ok(
          pdbs[0].spec.maxUnavailable !== undefined && pdbs[0].spec.minAvailable === undefined,
          `#19 ${id(w)}`,
        );
      }
    }
  });

  it('#20 multi-replica workloads in prod spread across zones', (t) => {
    if (skipIfNoKubectl(t)) return;
    const r = renders.get('prod') as Render;
    const scaled = autoscaled(r);
    for (const w of ofKind(r, 'Deployment', 'StatefulSet')) {
      if (!scaled.has(id(w)) && (w.spec.replicas ?? 1) <= 1) continue;
      const tsc = (w.spec.template.spec.topologySpreadConstraints ?? []) as Obj[];
      const zone = tsc.find((c) => c.topologyKey === 'topology.kubernetes.io/zone');
      assert.ok(zone, `#20 ${id(w)}: zone spread`);
      assert.ok(matches(zone.labelSelector, w.spec.template.metadata.labels), `#20 ${id(w)}: selector`);
    }
    for (const cr of [
      find(r, 'Kafka', 'furrow-kafka')?.spec.kafka.template.pod,
      find(r, 'Cluster', 'furrow-warehouse')?.spec,
    ]) {
      assert.ok(
        ((cr?.topologySpreadConstraints ?? []) as Obj[]).some(
          (c) => c.topologyKey === 'topology.kubernetes.io/zone',
        ),
        '#20 Kafka and PostgreSQL spread across zones',
      );
    }
  });

  it('#21 terminationGracePeriodSeconds ≥ preStop + preTermination + drain deadline + 10 s for HTTP-serving pods', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      for (const w of workloads(r).filter(isHttpServing)) {
        const cfg = furrowConfigOf(r, w);
        assert.ok(cfg, `${id(w)}: mounts a furrow config`);
        const shutdown = furrowConfigSchema.parse(cfg).shutdown;
        let preStop = 0;
        for (const c of containers(w)) {
          const cmd = (c.lifecycle?.preStop?.exec?.command ?? []).join(' ');
          const m = /setTimeout\([^,]+,\s*(\d+)\)/.exec(cmd);
          if (m) preStop = Math.max(preStop, Number(m[1]) / 1000);
        }
        const need = preStop + shutdown.preTerminationMs / 1000 + shutdown.drainDeadlineMs / 1000 + 10;
        const grace = podTemplate(w).spec.terminationGracePeriodSeconds;
        assert.ok(grace >= need, `#21 ${r.name} ${id(w)}: grace ${grace} < ${need}`);
      }
    }
  });

  it('#23 config comes from hashed generated ConfigMaps; secrets only by secretKeyRef or mounted Secret', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      assert.equal(ofKind(r, 'Secret').length, 0, `${r.name}: no literal Secret in the manifests`);
      for (const cm of ofKind(r, 'ConfigMap')) {
        assert.match(cm.metadata.name, /-[a-z0-9]{10}$/, `#23 ${cm.metadata.name}: content-hash suffix`);
        for (const [k, v] of Object.entries(cm.data ?? {})) {
          assert.doesNotMatch(
            String(v),
            /"(password|pass|token|secret|apiKey)"\s*:/i,
            `#23 ${cm.metadata.name}/${k}: secret-like key`,
          );
        }
      }
      for (const w of workloads(r)) {
        for (const v of podTemplate(w).spec.volumes ?? []) {
          if (v.configMap)
            assert.ok(
              find(r, 'ConfigMap', v.configMap.name),
              `#23 ${id(w)}: ConfigMap ${v.configMap.name} (hashed) exists`,
            );
        }
        for (const c of allContainers(w)) {
          for (const e of c.env ?? []) {
            if (/PASS|SECRET|TOKEN|KEY/i.test(e.name))
              assert.ok(e.valueFrom?.secretKeyRef, `#23 ${id(w)}: ${e.name} from a Secret`);
          }
        }
      }
    }
  });

  it('#24 #25 #26 #27 StatefulSets: headless serviceName, explicit podManagementPolicy, RollingUpdate partition, minReadySeconds, Retain', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      for (const s of ofKind(r, 'StatefulSet')) {
        const svc = find(r, 'Service', s.spec.serviceName);
        assert.ok(svc, `#24 ${id(s)}: Service ${s.spec.serviceName}`);
        assert.equal(svc.spec.clusterIP, 'None', `#24 ${id(s)}: headless`);
        assert.ok(
          mapMatches(svc.spec.selector, s.spec.template.metadata.labels),
          `#24 ${id(s)}: same selector`,
        );
        assert.ok(['Parallel', 'OrderedReady'].includes(s.spec.podManagementPolicy), `#25 ${id(s)}`);
        if (s.metadata.name === 'furrow-collector')
          assert.equal(s.spec.podManagementPolicy, 'Parallel', '#25');
        assert.equal(s.spec.updateStrategy.type, 'RollingUpdate', `#26 ${id(s)}`);
        assert.equal(
          typeof s.spec.updateStrategy.rollingUpdate?.partition,
          'number',
          `#26 ${id(s)}: partition`,
        );
        assert.ok(s.spec.minReadySeconds >= 10, `#26 ${id(s)}`);
        assert.equal(s.spec.strategy, undefined, `${id(s)}: Deployment-only spec.strategy`);
        assert.equal(s.spec.persistentVolumeClaimRetentionPolicy?.whenDeleted, 'Retain', `#27 ${id(s)}`);
        assert.equal(s.spec.persistentVolumeClaimRetentionPolicy?.whenScaled, 'Retain', `#27 ${id(s)}`);
      }
    }
  });

  it('#28 #30 volume claim templates are mounted, sized, RWO/RWOP (never RWX), on a WaitForFirstConsumer class when named', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      for (const s of ofKind(r, 'StatefulSet')) {
        for (const v of s.spec.volumeClaimTemplates ?? []) {
          const mounted = containers(s).some((c) =>
            (c.volumeMounts ?? []).some((m: Obj) => m.name === v.metadata.name),
          );
          assert.ok(mounted, `#28 ${id(s)}: ${v.metadata.name} mounted`);
          assert.ok(v.spec.resources?.requests?.storage, `#28 ${id(s)}: storage request`);
          for (const mode of v.spec.accessModes)
            assert.ok(['ReadWriteOnce', 'ReadWriteOncePod'].includes(mode), `#30 ${id(s)}: ${mode}`);
          if (v.spec.storageClassName !== undefined) {
            const sc = find(r, 'StorageClass', v.spec.storageClassName);
            assert.ok(sc, `#28 ${id(s)}: StorageClass ${v.spec.storageClassName} in the render`);
            assert.equal(sc.volumeBindingMode, 'WaitForFirstConsumer', `#28 ${sc.metadata.name}`);
          }
        }
      }
    }
    const prodCollector = find(renders.get('prod') as Render, 'StatefulSet', 'furrow-collector');
    assert.deepEqual(
      prodCollector?.spec.volumeClaimTemplates[0].spec.accessModes,
      ['ReadWriteOncePod'],
      '#30 prod spool RWOP',
    );
    assert.ok(
      prodCollector?.spec.volumeClaimTemplates[0].spec.storageClassName,
      '#28 prod names its StorageClass',
    );
  });

  it('#29 #32 the spool PVC is mounted at SPOOL_DIR = <dataDir>/spool, and spool.maxBytes ≤ 90 % of the volume', (t) => {
    if (skipIfNoKubectl(t)) return;
    let checked = 0;
    for (const r of all()) {
      for (const s of ofKind(r, 'StatefulSet')) {
        const c = containers(s)[0];
        const spoolDir = env(c, 'SPOOL_DIR');
        if (spoolDir === undefined) continue;
        const cfg = furrowConfigSchema.parse(furrowConfigOf(r, s));
        const dataDir = env(c, 'FURROW_DATA_DIR') ?? cfg.dataDir;
        assert.equal(spoolDir, `${dataDir}/spool`, `#29 ${id(s)}: SPOOL_DIR is where the app puts its spool`);
        const vcts = new Map<string, Obj>(
          (s.spec.volumeClaimTemplates ?? []).map((v: Obj) => [v.metadata.name, v]),
        );
        // the PVC holding the spool: mounted exactly at SPOOL_DIR, or at a parent of it
        const mount = (c.volumeMounts as Obj[])
          .filter(
            (m) => vcts.has(m.name) && (spoolDir === m.mountPath || spoolDir.startsWith(`${m.mountPath}/`)),
          )
          .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
        assert.ok(mount, `#29 ${id(s)}: a PVC holds ${spoolDir}`);
        if (s.metadata.name === 'furrow-collector')
          assert.equal(mount.mountPath, spoolDir, `#29 ${id(s)}: spool PVC at SPOOL_DIR`);
        const size = quantityBytes(vcts.get(mount.name)?.spec.resources.requests.storage);
        assert.ok(
          cfg.spool.maxBytes <= 0.9 * size,
          `#32 ${r.name} ${id(s)}: spool.maxBytes ${cfg.spool.maxBytes} > 90 % of ${size}`,
        );
        checked++;
      }
    }
    assert.ok(checked >= 2, 'collector and all-in-one checked');
  });

  it('#31 the DuckDB StatefulSet (furrow up) is a single replica and no autoscaler targets it', (t) => {
    if (skipIfNoKubectl(t)) return;
    const r = renders.get('dev') as Render;
    const s = find(r, 'StatefulSet', 'furrow');
    assert.equal(s?.spec.replicas, 1);
    assert.equal(furrowConfigSchema.parse(furrowConfigOf(r, s as Obj)).warehouse.loader, 'duckdb');
    assert.ok(!autoscaled(r).has('StatefulSet/furrow'));
    // RWO (not RWOP) on purpose: the backup CronJob mounts the same volume on the same node while it pauses the pod
    assert.deepEqual(s?.spec.volumeClaimTemplates[0].spec.accessModes, ['ReadWriteOnce']);
  });

  it('#33 #37 #38 #39 PDB, Service and PodMonitor selectors match pods; every targetPort and probe port is a named container port', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      const pods = workloads(r).map((w) => ({ w, labels: podTemplate(w).metadata.labels as Obj }));
      for (const p of ofKind(r, 'PodDisruptionBudget')) {
        assert.ok(
          pods.some((x) => matches(p.spec.selector, x.labels)),
          `#33 ${id(p)} selects pods`,
        );
      }
      for (const svc of ofKind(r, 'Service')) {
        const targets = pods.filter((x) => mapMatches(svc.spec.selector, x.labels));
        assert.ok(targets.length > 0, `#33 ${id(svc)} selects pods`);
        for (const port of svc.spec.ports) {
          assert.equal(typeof port.targetPort, 'string', `#37 ${id(svc)}: named targetPort`);
          for (const x of targets) {
            assert.ok(
              containers(x.w).some((c) => (c.ports ?? []).some((cp: Obj) => cp.name === port.targetPort)),
              `#37 ${id(svc)} → ${id(x.w)}`,
            );
          }
        }
        if (svc.spec.clusterIP === 'None')
          assert.equal(svc.spec.publishNotReadyAddresses, false, `#38 ${id(svc)}`);
      }
      const collectorSvc = find(r, 'Service', 'furrow-collector');
      if (collectorSvc) assert.equal(collectorSvc.spec.ports[0].targetPort, 'http', '#38');
      for (const w of workloads(r)) {
        for (const c of containers(w)) {
          for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe].filter(Boolean)) {
            assert.ok(
              (c.ports ?? []).some((cp: Obj) => cp.name === probe.httpGet.port),
              `#37 ${id(w)}: probe port ${probe.httpGet.port}`,
            );
          }
        }
      }
      const monitors = ofKind(r, 'PodMonitor', 'ServiceMonitor');
      if (monitors.length === 0) continue;
      for (const w of ofKind(r, 'Deployment', 'StatefulSet')) {
        const labels = w.spec.template.metadata.labels;
        const pm = monitors.find((m) => m.kind === 'PodMonitor' && matches(m.spec.selector, labels));
        assert.ok(pm, `#39 ${r.name} ${id(w)}: scraped by a PodMonitor`);
        assert.equal(pm.metadata.labels.release, 'kube-prometheus-stack', '#39 Prometheus selector label');
        for (const ep of pm.spec.podMetricsEndpoints) {
          assert.equal(ep.path, '/metrics');
          assert.ok(
            containers(w).some((c) => (c.ports ?? []).some((cp: Obj) => cp.name === ep.port)),
            `#39 ${id(w)}: port ${ep.port}`,
          );
        }
      }
    }
  });

  it('#34 #35 #36 default deny, every pod allowed by a policy with DNS egress; only the collector is open to the ingress controller', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      const nps = ofKind(r, 'NetworkPolicy');
      const deny = nps.find(
        (n) =>
          Object.keys(n.spec.podSelector).length === 0 &&
          n.spec.ingress === undefined &&
          n.spec.egress === undefined,
      );
      assert.deepEqual(deny?.spec.policyTypes, ['Ingress', 'Egress'], `#34 ${r.name}: default deny`);
      for (const w of workloads(r)) {
        const labels = podTemplate(w).metadata.labels;
        const selecting: Obj[] = nps.filter(
          (n: Obj) =>
            n !== deny &&
            (Object.keys(n.spec.podSelector).length === 0 || matches(n.spec.podSelector, labels)),
        );
        assert.ok(
          selecting.some((n: Obj) => Object.keys(n.spec.podSelector).length > 0),
          `#35 ${r.name} ${id(w)}: its own allow policy`,
        );
        const dns = selecting.some((n) =>
          (n.spec.egress ?? []).some((e: Obj) => {
            const ports = (e.ports ?? []) as Obj[];
            return (
              ports.some((p) => p.port === 53 && p.protocol === 'UDP') &&
              ports.some((p) => p.port === 53 && p.protocol === 'TCP')
            );
          }),
        );
        assert.ok(dns, `#35 ${r.name} ${id(w)}: DNS egress (UDP+TCP 53)`);
        const fromIngress: boolean = selecting.some((n: Obj) =>
          (n.spec.ingress ?? []).some((i: Obj) =>
            (i.from ?? []).some(
              (f: Obj) =>
                f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'ingress-nginx',
            ),
          ),
        );
        const component = labels['app.kubernetes.io/component'];
        assert.equal(
          fromIngress,
          component === 'collector' || component === 'all-in-one',
          `#36 ${r.name} ${id(w)}`,
        );
      }
    }
  });

  it('#40 #42 alert rules cover spool age and fill, lag, bad rows, restarts, PDBs and backups; every metric exists', async (t) => {
    if (skipIfNoKubectl(t)) return;
    const r = renders.get('prod') as Render;
    const rules = ofKind(r, 'PrometheusRule').flatMap((p) =>
      p.spec.groups.flatMap((g: Obj) => g.rules),
    ) as Obj[];
    const exprs = rules.map((x) => String(x.expr));
    const uses = (m: string) => exprs.some((e) => e.includes(m));
    for (const m of [
      'furrow_spool_oldest_age_seconds',
      'kubelet_volume_stats_used_bytes',
      'furrow_stream_lag_records',
      'furrow_bad_rows_total',
      'kube_pod_container_status_restarts_total',
      'kube_poddisruptionbudget_status_pod_disruptions_allowed',
      'kube_job_status_failed',
      'kube_cronjob_status_last_successful_time',
    ]) {
      assert.ok(uses(m), `#40 an alert on ${m}`);
    }
    for (const rule of rules) {
      assert.ok(
        rule.alert && rule.labels?.severity && rule.annotations?.summary,
        `#40 ${rule.alert}: severity + summary`,
      );
    }
    const dashboards = ofKind(r, 'ConfigMap')
      .filter((c) => c.metadata.labels?.grafana_dashboard === '1')
      .flatMap((c) => Object.values(c.data as Obj) as string[]);
    await assertMetricsExist([...exprs, ...dashboards]);
  });

  it('#41 dashboards: label grafana_dashboard "1", valid JSON, unique uid, templated datasource', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      const cms = ofKind(r, 'ConfigMap').filter((c) => c.metadata.name.startsWith('furrow-dashboard-'));
      if (r.name === 'dev') {
        assert.equal(cms.length, 0);
        continue;
      }
      assert.equal(cms.length, 4, `${r.name}: collector, enrich, loaders, pipeline`);
      const uids = new Set<string>();
      for (const cm of cms) {
        assert.equal(cm.metadata.labels.grafana_dashboard, '1');
        for (const text of Object.values(cm.data as Obj) as string[]) {
          const d = JSON.parse(text) as Obj;
          assert.ok(!uids.has(d.uid), `#41 duplicate uid ${d.uid}`);
          uids.add(d.uid);
          assert.ok(
            d.templating.list.some((v: Obj) => v.type === 'datasource' && v.query === 'prometheus'),
            `#41 ${d.uid}: datasource variable`,
          );
          for (const p of d.panels as Obj[]) {
            assert.equal(p.datasource.uid, TEMPLATED_DS, `#41 ${d.uid}/${p.title}`);
            for (const tg of p.targets)
              assert.equal(tg.datasource.uid, TEMPLATED_DS, `#41 ${d.uid}/${p.title}`);
          }
        }
      }
    }
  });

  it('#43 #45 enrich and loader scale on Kafka lag: KEDA min ≥ 2 in prod, max ≤ partitions; targets exist with kind and apiVersion', (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      for (const a of ofKind(r, 'HorizontalPodAutoscaler', 'ScaledObject')) {
        const ref = a.spec.scaleTargetRef;
        const target = find(r, ref.kind, ref.name);
        assert.ok(target, `#45 ${id(a)} → ${ref.kind}/${ref.name}`);
        assert.equal(ref.apiVersion ?? 'apps/v1', target.apiVersion, `#45 ${id(a)}`);
      }
    }
    const r = renders.get('prod') as Render;
    for (const name of ['furrow-enrich', 'furrow-loader']) {
      const so = find(r, 'ScaledObject', name);
      assert.ok(so, `#43 ${name}: ScaledObject`);
      assert.ok(so.spec.minReplicaCount >= 2, `#43 ${name}: min ≥ 2`);
      for (const trig of so.spec.triggers as Obj[]) {
        assert.equal(trig.type, 'kafka', `#43 ${name}`);
        const topic = find(r, 'KafkaTopic', trig.metadata.topic);
        assert.ok(topic, `#43 ${name}: topic ${trig.metadata.topic} in the render`);
        assert.ok(so.spec.maxReplicaCount <= topic.spec.partitions, `#43 ${name}: max ≤ partitions`);
      }
    }
    assert.equal(
      find(r, 'ScaledObject', 'furrow-enrich')?.spec.triggers[0].metadata.consumerGroup,
      kafkaGroupId('enrich', 'furrow-raw'),
    );
    assert.equal(
      find(r, 'ScaledObject', 'furrow-loader')?.spec.triggers[0].metadata.consumerGroup,
      kafkaGroupId('loader', 'furrow-enriched'),
    );
  });

  it('#44 the collector HPA scales on CPU only, scale-down stabilises ≥ 600 s at ≤ 1 pod per 5 min', (t) => {
    if (skipIfNoKubectl(t)) return;
    const hpa = find(renders.get('prod') as Render, 'HorizontalPodAutoscaler', 'furrow-collector');
    assert.ok(hpa);
    assert.ok((hpa.spec.metrics as Obj[]).every((m) => m.type === 'Resource' && m.resource.name === 'cpu'));
    const down = hpa.spec.behavior.scaleDown;
    assert.ok(down.stabilizationWindowSeconds >= 600);
    for (const p of down.policies as Obj[]) {
      assert.ok(p.type === 'Pods' && p.value <= 1 && p.periodSeconds >= 300, '#44 ≤ 1 pod / 5 min');
    }
  });

  it('#46 #47 #49 every database has a backup CronJob: Forbid, deadline, history, resources, own egress policy, mounted credentials', (t) => {
    if (skipIfNoKubectl(t)) return;
    const expect: Record<string, string> = { dev: 'furrow-backup-duckdb', prod: 'furrow-backup-postgres' };
    for (const [overlay, name] of Object.entries(expect)) {
      const r = renders.get(overlay) as Render;
      const cj = find(r, 'CronJob', name);
      assert.ok(cj, `#46 ${overlay}: ${name}`);
      assert.equal(cj.spec.concurrencyPolicy, 'Forbid', '#47');
      assert.ok(cj.spec.startingDeadlineSeconds > 0, '#47 startingDeadlineSeconds');
      assert.ok(
        cj.spec.successfulJobsHistoryLimit >= 1 && cj.spec.failedJobsHistoryLimit >= 1,
        '#47 history limits',
      );
      const labels = podTemplate(cj).metadata.labels;
      const own = ofKind(r, 'NetworkPolicy').find(
        (n) =>
          Object.keys(n.spec.podSelector).length > 0 &&
          matches(n.spec.podSelector, labels) &&
          n.spec.policyTypes.includes('Egress'),
      );
      assert.ok(own, `#47 ${name}: a NetworkPolicy restricting its egress`);
      const spec = podTemplate(cj).spec;
      if (overlay === 'prod') {
        assert.ok(
          spec.volumes.some((v: Obj) => v.secret?.secretName),
          '#47 credentials from a mounted Secret',
        );
        assert.match(spec.containers[0].args.join(' '), /pg_dump --format=custom/, 'pg_dump -Fc');
      } else {
        assert.ok(spec.containers[0].args.includes('backup'), 'furrow backup');
        assert.ok(
          spec.volumes.some((v: Obj) => v.persistentVolumeClaim?.claimName === 'data-furrow-0'),
          'mounts the warehouse PVC',
        );
      }
    }
    // #49: nothing deployment-specific (secrets, buckets) in base
    const base = renderDir('base', join(ROOT, 'base'));
    assert.ok(
      !/secret|bucket|s3:\/\/|gs:\/\//i.test(base.text),
      '#49 base holds no secret or bucket reference',
    );
  });

  it('#52 (static part) the drain-spool Job mounts an orphaned collector spool PVC at SPOOL_DIR and forwards it with the prod config', (t) => {
    if (skipIfNoKubectl(t)) return;
    const r = renders.get('prod-drain-spool') as Render;
    const job = find(r, 'Job', 'furrow-drain-spool');
    assert.ok(job);
    const c = containers(job)[0];
    assert.deepEqual(c.args.slice(0, 2), ['drain-spool', '--dir=/var/lib/furrow/spool']);
    const claim = podTemplate(job).spec.volumes.find((v: Obj) => v.name === 'spool').persistentVolumeClaim
      .claimName;
    assert.match(claim, /^spool-furrow-collector-\d+$/);
    assert.equal(furrowConfigSchema.parse(furrowConfigOf(r, job)).streams.engine, 'kafka');
    const prod = renders.get('prod') as Render;
    assert.equal(find(prod, 'Job', 'furrow-drain-spool'), undefined, 'prod itself runs no drain Job');
  });

  it('the configuration files load as the application reads them (furrow.json, resolver, enrichments, Kafka options)', async (t) => {
    if (skipIfNoKubectl(t)) return;
    for (const r of all()) {
      for (const cm of ofKind(r, 'ConfigMap')) {
        for (const [key, text] of Object.entries(cm.data ?? {}) as [string, string][]) {
          const json = JSON.parse(text) as Obj;
          if (key === 'furrow.json') {
            const cfg = furrowConfigSchema.parse(json);
            if (cfg.streams.engine === 'kafka') {
              const k = parseKafkaStreamsConfig(cfg.streams.kafka);
              for (const s of ['raw', 'enriched', 'bad'] as const) {
                const topic = k.topicFor(s);
                if (find(r, 'KafkaTopic', 'furrow-raw'))
                  assert.ok(find(r, 'KafkaTopic', topic), `${r.name}: KafkaTopic ${topic}`);
              }
            }
          } else if (cm.metadata.name.startsWith('furrow-iglu')) {
            parseResolverConfig(json);
          } else if (cm.metadata.name.startsWith('furrow-enrichments')) {
            parseEnrichmentConfig(json, key);
          }
        }
      }
    }
  });
});

const STANDARD_METRICS = new Set([
  'kubelet_volume_stats_used_bytes',
  'kubelet_volume_stats_capacity_bytes',
  'kube_pod_container_status_restarts_total',
  'kube_poddisruptionbudget_status_pod_disruptions_allowed',
  'kube_job_status_failed',
  'kube_cronjob_status_last_successful_time',
  'kube_statefulset_status_replicas_ready',
  'kube_deployment_status_replicas_ready',
]);

/** #42: every furrow_* name used exists in the metrics registry (prom-client defaults included) */
async function assertMetricsExist(texts: string[]): Promise<void> {
  const m = createMetrics();
  const exported = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    exported.add(metric.name);
    if (String(metric.type) === 'histogram') {
      for (const s of ['_bucket', '_sum', '_count']) exported.add(metric.name + s);
    }
  }
  for (const text of texts) {
    for (const [name] of text.matchAll(/\bfurrow_[a-z0-9_]+\b/g)) {
      assert.ok(exported.has(name), `#42 ${name} is not exported by src/runtime/metrics.ts`);
    }
    for (const [name] of text.matchAll(/\b(kube_[a-z0-9_]+|kubelet_[a-z0-9_]+)\b/g)) {
      assert.ok(STANDARD_METRICS.has(name), `#42 ${name} is not a known kube-state-metrics/kubelet metric`);
    }
  }
}
