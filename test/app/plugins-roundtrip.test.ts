/**
 * Every registered plugin round-trips the three stages a manifest goes through: `validate` accepts
 * it, `up` starts it against the real broker (127.0.0.1) and an event published on its source
 * becomes a row, and `kube render` gives a ScaledObject whose trigger is the plugin's own mapping
 * (KEDA's native scaler, or featherweight's external-push). The cases iterate over the registries
 * (src/sources/index.ts, src/app/scalers/index.ts): a plugin registered without a fixture here
 * fails the first test, so a new trigger is covered as soon as it is added.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { triggers } from '../../src/sources/index.js';
import { scalers } from '../../src/app/scalers/index.js';
import { validateFile } from '../../src/app/validate.js';
import { renderApp, readRawManifest } from '../../src/kube/render.js';
import { requireService, type services } from '../helpers/services.js';
import { guest, tempDir, waitUntil, withApp } from './helpers.js';

interface Fixture {
  /** The broker the trigger needs, if any. */
  service?: keyof typeof services;
  /** Metadata for the local broker, fresh names per call. */
  metadata(): Record<string, string>;
  cleanup?(md: Record<string, string>): Promise<void>;
  /** An extra scaling trigger read in-process: the value its reader reports. */
  reads?: number;
}

const u = () => randomUUID().slice(0, 8);

/** One per registered trigger type. */
const triggerFixtures: Record<string, Fixture> = {
  embedded: { metadata: () => ({ queue: `rt-${u()}` }) },
  http: { metadata: () => ({ maxBody: '1MiB' }) },
  smtp: { metadata: () => ({ listen: '127.0.0.1:0' }) },
  cron: { metadata: () => ({ schedule: '0 0 1 1 *', timezone: 'UTC' }) },
  'nats-jetstream': {
    service: 'nats',
    metadata: () => {
      const s = `RT_${u()}`;
      return { stream: s, subject: `${s}.in`, consumer: 'c1', natsServerMonitoringEndpoint: '127.0.0.1:8222' };
    },
  },
  'redis-streams': { service: 'redis', metadata: () => ({ stream: `rt-${u()}`, consumerGroup: 'c1' }) },
  rabbitmq: { service: 'rabbitmq', metadata: () => ({ queueName: `rt-${u()}` }) },
  mqtt: {
    service: 'mqtt',
    metadata: () => {
      const id = u();
      return { topic: `rt/${id}/in`, clientId: `rt-${id}` };
    },
    async cleanup(md) {
      // a clean start with the same client id discards the persistent session
      const c = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: md.clientId!, clean: true, protocolVersion: 5 });
      await c.endAsync();
    },
  },
};

/** One per registered extra scaling trigger (`scaling.triggers`). */
const scalerFixtures: Record<string, Fixture> = {
  cron: { metadata: () => ({ timezone: 'UTC', start: '0 8 * * *', end: '0 18 * * *', desiredReplicas: '2' }) },
  postgresql: {
    service: 'postgres',
    metadata: () => ({ host: '127.0.0.1', port: '5432', userName: 'postgres', passwordFromEnv: 'RT_PGPASSWORD', dbName: 'postgres', query: 'SELECT 3', targetQueryValue: '1' }),
    reads: 3,
  },
};

test('every registered trigger and scaler plugin has a round-trip fixture', () => {
  assert.deepEqual(Object.keys(triggerFixtures).sort(), Object.keys(triggers).sort());
  assert.deepEqual(Object.keys(scalerFixtures).sort(), Object.keys(scalers).sort());
});

function writeManifest(dir: string, component: Record<string, unknown>): string {
  const file = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(
    file,
    stringify({
      apiVersion: 'featherweight.dev/v1',
      kind: 'App',
      metadata: { name: 'rt' },
      dataDir: dir,
      components: [
        {
          name: 'c1',
          module: guest('echo'),
          scaling: { pollingInterval: 1, cooldownPeriod: 1, minReplicaCount: 0, maxReplicaCount: 2 },
          sink: { type: 'sqlite', table: 'rows' },
          ...component,
        },
      ],
    }),
  );
  return file;
}

/** `validate` -> the manifest; every problem in the failure message. */
function validated(file: string) {
  const r = validateFile(file);
  assert.ok(r.ok, r.ok ? '' : `validate: ${r.problems.join('; ')}`);
  return r.manifest;
}

type Rendered = Array<{ kind?: string; metadata?: { name?: string }; spec?: any }>;

function rendered(file: string): Rendered {
  return renderApp(validated(file), { rawDoc: readRawManifest(file) }) as Rendered;
}

function scaledObjectTriggers(objects: Rendered): Array<{ type: string; metadata: Record<string, string> }> {
  const so = objects.find((o) => o.kind === 'ScaledObject');
  assert.ok(so, 'a ScaledObject is rendered');
  return so.spec.triggers;
}

for (const [type, plugin] of Object.entries(triggers)) {
  test(`${type}: validate -> up (an event becomes a row) -> kube render (${plugin.kube.kind === 'native' ? `KEDA ${plugin.kube.type}` : 'external-push'})`, async (t) => {
    const fx = triggerFixtures[type];
    assert.ok(fx, `no round-trip fixture for ${type}`);
    if (fx.service && !(await requireService(t, fx.service))) return;
    const dir = tempDir('fw-rt-');
    const md = fx.metadata();
    t.after(async () => {
      await fx.cleanup?.(md);
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const file = writeManifest(dir, { trigger: { type, metadata: md } });

    const manifest = validated(file);
    assert.equal(manifest.components[0]!.trigger.type, type);

    await withApp(manifest, async (app) => {
      const comp = app.components.get('c1')!;
      assert.equal(comp.source.type, type);
      const id = `rt-${type}`;
      // Until it lands: an MQTT session subscribes only once the component first asks for an event,
      // and a message published before that has no subscriber. The sink keys rows by event id, so
      // a second publish of the same event is never a second row.
      await waitUntil(`the event through ${type}`, async () => {
        const { rows } = await comp.sink.rows!({ limit: 10, offset: 0 });
        if (rows.some((r) => r.event_id === id)) return true;
        await comp.source.publish({ id, source: type, subject: '', headers: {}, body: new TextEncoder().encode('{"round":"trip"}\n') });
        await new Promise((r) => setTimeout(r, 250));
        return false;
      }, 120_000);
      const { rows } = await comp.sink.rows!({ limit: 10, offset: 0 });
      assert.deepEqual(rows.filter((r) => r.event_id === id).map((r) => r.round), ['trip']);
    });

    const objects = rendered(file);
    const [own] = scaledObjectTriggers(objects);
    if (plugin.kube.kind === 'external-push') {
      assert.equal(own!.type, 'external-push');
      assert.equal(own!.metadata.component, 'c1');
      assert.match(own!.metadata.scalerAddress!, /:9090$/);
      const svc = objects.find((o) => o.kind === 'Service' && o.metadata?.name === 'rt-c1');
      const exposed = (svc?.spec.ports ?? []).map((p: { name: string }) => p.name);
      assert.deepEqual(exposed, plugin.kube.ingress ? [plugin.kube.ingress.name] : [], 'the Service exposes the trigger\'s ingress, and only that');
    } else {
      assert.equal(own!.type, plugin.kube.type);
      for (const key of plugin.kube.required) assert.ok(own!.metadata[key], `rendered ${type} trigger carries ${key}`);
      for (const key of Object.keys(own!.metadata)) assert.ok(plugin.kube.keys.includes(key), `${key} is a key KEDA's ${plugin.kube.type} scaler reads`);
    }
  });
}

for (const [type, plugin] of Object.entries(scalers)) {
  test(`extra scaling trigger ${type}: validate -> up -> kube render (KEDA ${plugin.kube.type}, beside the component's own trigger)`, async (t) => {
    const fx = scalerFixtures[type];
    assert.ok(fx, `no round-trip fixture for ${type}`);
    if (fx.service && !(await requireService(t, fx.service))) return;
    const dir = tempDir('fw-rt-');
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    process.env.RT_PGPASSWORD ??= 'postgres';
    const md = fx.metadata();
    const file = writeManifest(dir, {
      trigger: { type: 'embedded', metadata: {} },
      scaling: { pollingInterval: 1, cooldownPeriod: 1, minReplicaCount: 0, maxReplicaCount: 2, triggers: [{ type, name: 'extra', metadata: md }] },
    });

    const manifest = validated(file);
    await withApp(manifest, async (app) => {
      const comp = app.components.get('c1')!;
      const names = comp.scaler.state().triggers.map((x) => x.name);
      assert.equal(names.length, 2, 'the own trigger and the extra one both scale');
      assert.ok(names.includes('extra'));
      if (fx.reads !== undefined) {
        const value = () => comp.scaler.state().triggers.find((x) => x.name === 'extra')?.value;
        await waitUntil(`the ${type} reader's value`, () => value() === fx.reads, 60_000);
      }
    });

    const triggersOut = scaledObjectTriggers(rendered(file));
    assert.deepEqual(triggersOut.map((x) => x.type), ['external-push', plugin.kube.type]);
    const extra = triggersOut[1]!;
    for (const key of plugin.kube.required) assert.ok(extra.metadata[key], `rendered ${type} trigger carries ${key}`);
    for (const key of Object.keys(extra.metadata)) assert.ok(plugin.kube.keys.includes(key), `${key} is a key KEDA's ${plugin.kube.type} scaler reads`);
  });
}
