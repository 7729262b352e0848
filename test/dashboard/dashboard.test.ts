import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parseManifest } from '../../src/app/manifest.js';
import { startApp, type RunningApp } from '../../src/app/app.js';
import { createLogger } from '../../src/app/log.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { sendBurst } from '../../src/cli/mail-burst.js';
import { repoRoot } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';

const chromiumPath = '/usr/bin/chromium';
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const moduleFile = path.join(repoRoot, 'guests/build/mail-lines.wasm');
const guestFile = (name: string) => path.join(repoRoot, 'guests/build', `${name}.wasm`);
const artifacts = path.join(repoRoot, 'test-artifacts');

/** Chromium missing: fail in CI (nothing passes silently there), skip with the reason elsewhere. */
function requireChromium(t: TestContext): boolean {
  if (fs.existsSync(chromiumPath)) return true;
  const reason = `${chromiumPath} is missing (apt-get install -y chromium)`;
  if (process.env.CI) throw new Error(`${reason} (CI is set, so this fails instead of skipping)`);
  console.log(`# SKIP ${t.name}: ${reason}`);
  t.skip(reason);
  return false;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface PageSeries { t: number[]; lag: number[]; desired: number[]; current: number[]; rate: number[]; p50: (number | null)[]; p99: (number | null)[]; decisions: Array<{ at: number; from: number; to: number; reason: string }> }
const pageSeries = (page: Page) => page.evaluate(() => (window as unknown as { featherweight: { series(n?: string): unknown } }).featherweight.series('mail-lines')) as Promise<PageSeries | null>;

async function getJson(url: string): Promise<any> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url} answered ${res.status}`);
  return res.json();
}

test('dashboard: live charts, scaling from zero and back, rows with filter, API and metrics shapes', { timeout: 180_000 }, async (t) => {
  if (!requireChromium(t)) return;
  assert.ok(fs.existsSync(moduleFile), `${moduleFile} is missing: run npm run build:guests`);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-dashboard-'));
  const smtpPort = await freePort();
  const manifest = parseManifest(
    {
      apiVersion: 'featherweight.dev/v1',
      kind: 'App',
      metadata: { name: 'dashboard-test' },
      dataDir,
      components: [{
        name: 'mail-lines',
        module: moduleFile,
        limits: { maxMemory: '16MiB', timeout: '5s', maxStdin: '25MiB', maxStdout: '50MiB' },
        trigger: { type: 'smtp', metadata: { listen: `127.0.0.1:${smtpPort}`, allowRecipients: '*@featherweight.test', lagThreshold: '2', activationLagThreshold: '0' } },
        scaling: {
          minReplicaCount: 0,
          maxReplicaCount: 8,
          pollingInterval: 1,
          cooldownPeriod: 2,
          advanced: { horizontalPodAutoscalerConfig: { behavior: {
            scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 4, periodSeconds: 1 }] },
            scaleDown: { stabilizationWindowSeconds: 1, policies: [{ type: 'Percent', value: 100, periodSeconds: 1 }] },
          } } },
        },
        hpaSyncPeriod: '250ms', // as the demo: a short burst is sampled often enough to show its replicas
        sink: { type: 'sqlite', table: 'mail_lines' },
      }, {
        // every event fails (exit 3, a line on stderr): the dead-letter card
        name: 'refuser',
        module: guestFile('fail'),
        trigger: { type: 'embedded' },
        scaling: { minReplicaCount: 0, maxReplicaCount: 1, pollingInterval: 1, cooldownPeriod: 1 },
        delivery: { maxAttempts: 1 },
        sink: { type: 'sqlite', table: 'refused' },
      }, {
        // every event succeeds without output: processed, but no rows
        name: 'quiet',
        module: guestFile('noop'),
        trigger: { type: 'embedded' },
        scaling: { minReplicaCount: 0, maxReplicaCount: 1, pollingInterval: 1, cooldownPeriod: 1 },
        sink: { type: 'sqlite', table: 'quiet' },
      }],
    },
    { baseDir: dataDir },
  );
  const log = createLogger({ level: 'warn', pretty: false, destination: process.stderr });
  let app: RunningApp | undefined;
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  try {
    app = await startApp(manifest, { log });
    server = await startServer(app, { listen: '127.0.0.1:0', log });
    const base = server.url;

    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));

    await page.goto(base);
    await page.waitForSelector('#component:not([hidden])');
    assert.equal(await page.locator('.uplot').count(), 4, 'four charts');
    assert.equal(await page.locator('#conn').getAttribute('data-state'), 'live');
    assert.equal(await page.locator('#app-name').textContent(), 'dashboard-test');
    // Before any mail: the empty state tells how to send some.
    assert.match((await page.locator('#hint').textContent()) ?? '', /No events yet — send mail with featherweight mail burst/);
    assert.match((await page.locator('#rows-empty').textContent()) ?? '', /featherweight mail burst/);

    // The burst: enough mails and lines that the queue outgrows one replica (the streaming mail-lines
    // guest reuses its memory between events, so mails of 40-400 lines no longer keep one replica busy).
    const burst = await sendBurst({ server: `127.0.0.1:${smtpPort}`, count: 120, rate: 0, connections: 8, seed: 11, lines: { min: 200, max: 2000 } });
    assert.equal(burst.failed, 0, JSON.stringify(burst.failures.slice(0, 3)));

    const rose = await waitFor('the replicas chart to show more than one replica', async () => {
      const s = await pageSeries(page);
      return s && Math.max(...s.current) > 1 ? s : undefined;
    });
    assert.ok(Math.max(...rose.desired) > 1, 'desired rose above 1 too');
    assert.ok(rose.lag.some((v) => v > 0), 'the lag chart received non-zero points');

    await waitFor('rows in the table', async () => (await page.locator('#rows-table tbody tr').count()) > 0);
    assert.equal(await page.locator('#hint').isHidden(), true, 'the empty-state hint goes away');

    // Every mail processed, exactly the rows the attachments hold.
    await waitFor('every mail to be processed', async () => {
      const c = await getJson(`${base}/v1/components/mail-lines`);
      return c.counters.processed === burst.sent ? c : undefined;
    }, 90_000);
    const all = await getJson(`${base}/v1/components/mail-lines/rows?limit=5`);
    assert.equal(all.total, burst.expectedRows, 'rows in SQLite = lines in the text attachments');

    // Back to zero after the cooldown, on the chart.
    const settled = await waitFor('the replicas chart to return to zero', async () => {
      const s = await pageSeries(page);
      return s && s.current.at(-1) === 0 && s.desired.at(-1) === 0 ? s : undefined;
    }, 30_000);
    const peakAt = settled.current.indexOf(Math.max(...settled.current));
    assert.ok(peakAt >= 0 && settled.current.slice(peakAt).includes(0), 'zero comes after the peak');
    assert.ok(settled.rate.some((v) => v > 0), 'the events/s chart received non-zero points');
    assert.ok(settled.p50.some((v) => v !== null && v > 0), 'the latency chart received points');
    for (const id of ['chart-lag', 'chart-replicas', 'chart-rate', 'chart-latency']) {
      assert.ok(Number(await page.locator(`#${id}`).getAttribute('data-points')) > 10, `${id} has points`);
    }
    assert.match((await page.locator('#s-decision').textContent()) ?? '', /→ 0/, 'the last decision is the scale to zero');
    // The visible log shows the latest 20; the page keeps 50, and the activation is the oldest of them.
    assert.ok(settled.decisions.some((d) => d.from === 0 && d.to >= 1), 'the activation from zero is in the decision history');
    assert.match((await page.locator('#decisions').textContent()) ?? '', /→ 0/, 'the decision log shows the return to zero');

    // Tiles agree with the API; the latency tile names its time window, and "cold starts" are thread waits.
    assert.equal((await page.locator('#t-processed').textContent())?.replace(/,/g, ''), String(burst.sent));
    assert.equal(await page.locator('#t-dead').textContent(), '0');
    assert.equal(await page.locator('#t-latency-label').textContent(), 'Latency p50 · 60 s');
    assert.match((await page.locator('#t-latency-sub').textContent()) ?? '', /^p99 \d/);
    assert.match((await page.locator('#tile-latency').getAttribute('title')) ?? '', /over the [\d,]+ events of the last 60 s/);
    assert.match((await page.locator('#tiles').textContent()) ?? '', /Thread waits/);

    // Filter: a file name narrows the table to that file's lines; nonsense shows the empty state.
    await page.waitForFunction(() => document.querySelector('#rows')?.getAttribute('data-total') !== null);
    await waitFor('the table to show every row', async () => Number(await page.locator('#rows').getAttribute('data-total')) === burst.expectedRows, 10_000);
    const file = (await page.locator('#rows-table tbody tr td.file').first().textContent())!.trim();
    assert.match(file, /^(notes|export|server)-\d+-\d+\.(txt|csv|log)$/);
    await page.fill('#rows-filter', file);
    await waitFor('the filter to apply', async () => {
      const total = Number(await page.locator('#rows').getAttribute('data-total'));
      return total > 0 && total < burst.expectedRows;
    }, 10_000);
    const files = await page.locator('#rows-table tbody tr td.file').allTextContents();
    assert.ok(files.length > 0 && files.every((f) => f.includes(file)), `every row is from ${file}`);
    assert.ok((await page.locator('#rows-table mark').count()) > 0, 'matches are highlighted');
    const filtered = await getJson(`${base}/v1/components/mail-lines/rows?limit=1&filter=${encodeURIComponent(file)}`);
    assert.equal(Number(await page.locator('#rows').getAttribute('data-total')), filtered.total);
    await page.fill('#rows-filter', 'no such text <script>alert(1)</script>');
    await waitFor('the no-match state', async () => /No rows match/.test((await page.locator('#rows-empty').textContent()) ?? ''), 10_000);
    assert.equal(await page.locator('#rows-empty script').count(), 0, 'the filter text is shown as text');
    await page.fill('#rows-filter', '');
    await waitFor('the filter to clear', async () => Number(await page.locator('#rows').getAttribute('data-total')) === burst.expectedRows, 10_000);

    // Paging.
    assert.equal(await page.locator('#rows-table tbody tr').count(), 50);
    const firstPage = await page.locator('#rows-table tbody tr td.text').first().textContent();
    await page.click('#rows-next');
    await waitFor('page 2', async () => /^51–100 of/.test((await page.locator('#rows-range').textContent()) ?? ''), 10_000);
    assert.notEqual(await page.locator('#rows-table tbody tr td.text').first().textContent(), firstPage);
    await page.click('#rows-prev');
    await waitFor('page 1', async () => /^1–50 of/.test((await page.locator('#rows-range').textContent()) ?? ''), 10_000);

    fs.mkdirSync(artifacts, { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(artifacts, 'dashboard-1280.png'), fullPage: true });
    await page.setViewportSize({ width: 375, height: 812 });
    await page.waitForTimeout(400);
    await page.evaluate(() => window.scrollTo(0, 0));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(overflow <= 375, `no horizontal scrolling at 375 px (page is ${overflow} px wide)`);
    await page.screenshot({ path: path.join(artifacts, 'dashboard-375.png'), fullPage: true });
    await page.locator('.charts').screenshot({ path: path.join(artifacts, 'dashboard-charts-375.png') });

    // An embedded-trigger component before any event: the hint's curl keeps the file's newlines, and
    // its long command wraps at 375 px instead of widening the page.
    await page.click('.tab:has-text("quiet")');
    await waitFor('the quiet tab', async () => (await page.locator('#comp-name').textContent()) === 'quiet', 10_000);
    assert.match((await page.locator('#hint').textContent()) ?? '', /curl --data-binary @event\.json http:\/\/127\.0\.0\.1:\d+\/v1\/components\/quiet\/events/);
    const hintWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(hintWidth <= 375, `the empty-state hint fits 375 px (page is ${hintWidth} px wide)`);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(artifacts, 'dashboard-empty-375.png'), fullPage: true });
    // Events that write no rows: the rows card says so rather than "no events yet".
    for (let i = 0; i < 2; i++) assert.equal((await fetch(`${base}/v1/components/quiet/events`, { method: 'POST', body: `q${i}\n` })).status, 202);
    await waitFor('the rows card to count events without rows', async () =>
      /^No rows yet: 2 events processed without output records\.$/.test((await page.locator('#rows-empty').textContent()) ?? ''), 30_000);
    assert.equal(await page.locator('#hint').isHidden(), true, 'the hint goes once events came');

    // Dead letters: whole, distinct ids; the reason once; the stored stderr tail behind a toggle; drop.
    await page.setViewportSize({ width: 1280, height: 900 });
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${base}/v1/components/refuser/events`, { method: 'POST', body: `r${i}\n` })).status, 202);
    await waitFor('three dead letters', () => app!.deadLetters.count('refuser') === 3, 30_000);
    const stored = (await getJson(`${base}/v1/dlq?component=refuser`)).deadLetters as Array<{ id: string; reason: string; stderrTail: string; event: { id: string } }>;
    await page.click('.tab:has-text("refuser")');
    await waitFor('the dead-letter card to list three', async () => (await page.locator('#dlq-list li[data-id]').count()) === 3, 10_000);
    const shownIds = await page.locator('#dlq-list .dlq-id').allTextContents();
    assert.deepEqual([...shownIds].sort(), stored.map((d) => d.id).sort(), 'every id is shown whole');
    assert.equal(new Set(shownIds).size, 3, 'and they read differently');
    assert.deepEqual((await page.locator('#dlq-list .dlq-event').allTextContents()).sort(), stored.map((d) => d.event.id).sort());
    for (const d of stored) {
      const item = page.locator(`#dlq-list li[data-id="${d.id}"]`);
      const text = (await item.textContent()) ?? '';
      assert.match(d.reason, /^exit: /);
      assert.equal(text.split(d.reason).length - 1, 1, `the reason appears once in ${JSON.stringify(text)}`);
      assert.match(d.stderrTail, /fail: refusing this event/);
      assert.equal(await item.locator('details.dlq-stderr pre').isVisible(), false, 'the stderr tail starts collapsed');
    }
    const firstItem = page.locator('#dlq-list li[data-id]').first();
    await firstItem.locator('details.dlq-stderr summary').click();
    assert.equal((await firstItem.locator('details.dlq-stderr pre').textContent())?.trim(), 'fail: refusing this event');
    // The rows card reloads at most once a second, on its own poll: wait for it rather than read it once.
    await waitFor('the rows card to count the dead letters', async () =>
      /^No rows yet: 3 dead-lettered \(see Dead letters\)\.$/.test((await page.locator('#rows-empty').textContent()) ?? ''), 10_000);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(artifacts, 'dashboard-dead-letters-1280.png'), fullPage: true });
    await page.setViewportSize({ width: 375, height: 812 });
    await page.waitForTimeout(400);
    const dlqWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(dlqWidth <= 375, `the dead-letter card fits 375 px (page is ${dlqWidth} px wide)`);
    await page.locator('#dlq').screenshot({ path: path.join(artifacts, 'dashboard-dead-letters-375.png') });
    // Drop asks first; the second click deletes it from the store.
    const dropId = (await firstItem.getAttribute('data-id'))!;
    const drop = firstItem.locator('button:has-text("Drop")');
    await drop.click();
    assert.equal(await drop.textContent(), 'Drop for good?');
    assert.equal(app.deadLetters.count('refuser'), 3, 'the first click only asks');
    await drop.click();
    await waitFor('the dropped dead letter to leave the card', async () => (await page.locator('#dlq-list li[data-id]').count()) === 2, 10_000);
    assert.equal(app.deadLetters.get(dropId), undefined, 'dropped from the store');
    assert.equal(await page.locator(`#dlq-list li[data-id="${dropId}"]`).count(), 0);

    assert.deepEqual(consoleErrors, [], 'no console errors or warnings');
    await page.close();

    // API shapes.
    const list = await getJson(`${base}/v1/components`);
    assert.ok(Array.isArray(list.components) && list.components.length === 3);
    const c = list.components.find((x: { name: string }) => x.name === 'mail-lines');
    for (const k of ['name', 'trigger', 'sink', 'lag', 'inFlight', 'replicas', 'counters', 'latencyMs', 'scaler']) assert.ok(k in c, `component state has ${k}`);
    assert.deepEqual(Object.keys(c.replicas).sort(), ['busy', 'current', 'desired', 'threads']);
    for (const k of ['processed', 'retried', 'deadLettered', 'records', 'coldStarts']) assert.equal(typeof c.counters[k], 'number', `counters.${k}`);
    assert.equal(typeof c.latencyMs.p50, 'number');
    assert.equal(typeof c.latencyMs.p99, 'number');
    assert.equal(c.latencyMs.windowMs, 60_000);
    const one = await getJson(`${base}/v1/components/mail-lines`);
    assert.equal(one.name, 'mail-lines');
    assert.equal(one.scaler.active, false);
    assert.equal(typeof one.scaler.lastActiveTime, 'number');
    assert.equal(one.scaler.lastDecision.to, 0);
    assert.equal(typeof one.scaler.lastDecision.reason, 'string');
    assert.equal(one.scaler.triggers[0].target, 2);
    assert.equal(all.limit, 5);
    assert.equal(all.offset, 0);
    assert.equal(all.rows.length, 5);
    for (const k of ['event_id', 'record_index', 'created_at', 'file', 'line', 'text']) assert.ok(k in all.rows[0], `row has ${k}`);
    const dlq = await getJson(`${base}/v1/dlq`);
    assert.deepEqual(dlq.deadLetters.map((d: { component: string }) => d.component), ['refuser', 'refuser'], 'the two left after the drop');
    const missing = await fetch(`${base}/v1/components/nope`);
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).error, /no component named "nope"/);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const name of ['featherweight_events_total', 'featherweight_event_latency_seconds', 'featherweight_replicas_desired', 'featherweight_scaler_metrics_value', 'featherweight_scaler_active']) {
      assert.match(metrics, new RegExp(`^# TYPE ${name} `, 'm'), `/metrics has ${name}`);
    }
    assert.match(metrics, /featherweight_events_total\{[^}]*component="mail-lines"[^}]*\} 120/);
  } finally {
    await browser?.close();
    await server?.close();
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
