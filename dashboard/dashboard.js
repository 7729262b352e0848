// featherweight dashboard: plain browser JS, no build step. Data comes from the server-sent event
// stream (/v1/stream: one `history` event, then a `sample` every 250 ms) and the REST API.
// Every piece of data reaches the DOM through textContent or attributes, never innerHTML.
(() => {
  'use strict';

  const MAX_POINTS = 1200; // 5 minutes at 250 ms
  const RATE_WINDOW_MS = 1000;
  const ROWS_PAGE = 50;

  const $ = (id) => document.getElementById(id);

  /** createElement with attributes and children (strings become text nodes). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const setText = (id, v) => {
    const el = typeof id === 'string' ? $(id) : id;
    const s = String(v);
    if (el && el.textContent !== s) el.textContent = s;
  };
  const num = (v, d = 0) => (typeof v === 'number' && Number.isFinite(v) ? v : d);

  // ---------- formatting ----------
  const intFmt = new Intl.NumberFormat('en-US');
  const compactFmt = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
  const fmtInt = (n) => (Math.abs(n) >= 1e6 ? compactFmt.format(n) : intFmt.format(Math.round(n)));
  function fmtRate(n) {
    if (n >= 100) return intFmt.format(Math.round(n));
    if (n >= 10) return n.toFixed(1);
    return n.toFixed(n === 0 ? 0 : 2);
  }
  function fmtMs(ms) {
    if (!Number.isFinite(ms)) return '–';
    if (ms < 1) return `${ms.toFixed(2)} ms`;
    if (ms < 10) return `${ms.toFixed(1)} ms`;
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
    return `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`;
  }
  function fmtAgo(t, now = Date.now()) {
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) return 'never';
    const s = Math.max(0, (now - t) / 1000);
    if (s < 1) return 'just now';
    if (s < 60) return `${Math.floor(s)} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return new Date(t).toLocaleString();
  }
  const fmtClock = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  function fmtValue(v) {
    if (v === null || v === undefined) return '–';
    if (typeof v === 'number') return Number.isInteger(v) ? fmtInt(v) : v.toFixed(2);
    return String(v);
  }

  // ---------- data per component ----------
  /** name -> { t[], lag[], inFlight[], desired[], current[], busy[], rate[], p50[], p99[], processed[], last, decisions[] } */
  const series = new Map();
  let order = [];
  let selected = null;
  let lastSampleAt = 0;

  function seriesFor(name) {
    let s = series.get(name);
    if (!s) {
      s = { t: [], lag: [], inFlight: [], desired: [], current: [], busy: [], rate: [], p50: [], p99: [], processed: [], last: null, decisions: [], decisionAt: null, decisionKey: null };
      series.set(name, s);
    }
    return s;
  }

  function addSample(sample) {
    if (!sample || !Array.isArray(sample.components)) return;
    const t = num(sample.t, Date.now());
    lastSampleAt = Date.now();
    const names = [];
    for (const c of sample.components) {
      if (!c || typeof c.name !== 'string') continue;
      names.push(c.name);
      const s = seriesFor(c.name);
      const counters = c.counters || {};
      const replicas = c.replicas || {};
      const latency = c.latencyMs || {};
      const processed = num(counters.processed);
      // events/s over the last second of samples (a single 250 ms delta is too jumpy to read)
      let rate = 0;
      for (let j = s.t.length - 1; j >= 0; j--) {
        const dt = t - s.t[j] * 1000;
        if (dt >= RATE_WINDOW_MS || j === 0) {
          rate = dt > 0 ? Math.max(0, ((processed - s.processed[j]) * 1000) / dt) : 0;
          break;
        }
      }
      s.t.push(t / 1000);
      s.processed.push(processed);
      s.lag.push(num(c.lag));
      s.inFlight.push(num(c.inFlight));
      s.desired.push(num(replicas.desired, num(c.scaler && c.scaler.desired)));
      s.current.push(num(replicas.current));
      s.busy.push(num(replicas.busy));
      s.rate.push(rate);
      s.p50.push(num(latency.count) > 0 ? num(latency.p50) : null);
      s.p99.push(num(latency.count) > 0 ? num(latency.p99) : null);
      if (s.t.length > MAX_POINTS) {
        for (const k of ['t', 'processed', 'lag', 'inFlight', 'desired', 'current', 'busy', 'rate', 'p50', 'p99']) s[k].shift();
      }
      s.last = c;
      // recentDecisions (newest first) holds the changes between two samples too; fall back to lastDecision.
      const recent = c.scaler && Array.isArray(c.scaler.recentDecisions) ? c.scaler.recentDecisions : c.scaler && c.scaler.lastDecision ? [c.scaler.lastDecision] : [];
      const key = (d) => `${d.at}:${d.from}:${d.to}`;
      const fresh = [];
      for (const d of recent) {
        if (!d || typeof d.at !== 'number' || key(d) === s.decisionKey || d.at < (s.decisionAt ?? 0)) break;
        fresh.push(d);
      }
      if (fresh.length) {
        s.decisionAt = fresh[0].at;
        s.decisionKey = key(fresh[0]);
        for (const d of fresh.reverse()) s.decisions.unshift({ at: d.at, from: num(d.from), to: num(d.to), reason: String(d.reason ?? '') });
        if (s.decisions.length > 500) s.decisions.length = 500;
      }
    }
    if (names.join('\0') !== order.join('\0')) {
      order = names;
      renderTabs();
    }
  }

  // ---------- charts ----------
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const charts = {}; // id -> { u, el, build }
  const stepped = uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;

  function axis(extra) {
    return {
      stroke: css('--muted'),
      grid: { stroke: css('--grid'), width: 1 },
      ticks: { stroke: css('--grid'), width: 1, size: 4 },
      font: `11px ${css('--sans') || 'sans-serif'}`,
      ...extra,
    };
  }

  function chartOptions(el, kind) {
    const width = Math.max(200, el.clientWidth || 400);
    const height = window.innerWidth < 560 ? 150 : 170;
    const intAxis = { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000], values: (u, ticks) => ticks.map((v) => fmtInt(v)) };
    const base = {
      width,
      height,
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      // our own legend (below) shows the latest values, and the hovered ones under the cursor
      legend: { show: false },
      hooks: { setCursor: [(u) => updateLegend(u)] },
      scales: { x: { time: true } },
      // One-line clock labels, spaced for their width: uPlot's default two-line date/time labels ran
      // into each other on narrow charts.
      axes: [axis({ space: 72, values: (u, splits) => splits.map((v) => fmtClock(v * 1000)) }), axis({ size: 46 })],
    };
    const c1 = css('--c-1'), c2 = css('--c-2'), c3 = css('--c-3'), c4 = css('--c-4');
    if (kind === 'lag') {
      base.scales.y = { range: (u, min, max) => [0, Math.max(5, max * 1.15)] };
      base.axes[1] = axis({ size: 46, ...intAxis });
      base.series = [{}, { label: 'waiting + in flight', stroke: c1, fill: css('--c-1-fill'), width: 1.5, value: (u, v) => (v == null ? '–' : fmtInt(v)) },
        { label: 'in flight', stroke: c2, width: 1.25, value: (u, v) => (v == null ? '–' : fmtInt(v)) }];
    } else if (kind === 'replicas') {
      base.scales.y = { range: (u, min, max) => [0, Math.max(2, Math.ceil(max * 1.15))] };
      base.axes[1] = axis({ size: 38, ...intAxis });
      base.series = [{}, { label: 'desired', stroke: c2, width: 1.5, dash: [5, 4], paths: stepped, value: (u, v) => (v == null ? '–' : String(v)) },
        { label: 'current', stroke: c1, fill: css('--c-1-fill'), width: 2, paths: stepped, value: (u, v) => (v == null ? '–' : String(v)) },
        { label: 'busy', stroke: c3, width: 1, paths: stepped, value: (u, v) => (v == null ? '–' : String(v)) }];
    } else if (kind === 'rate') {
      base.scales.y = { range: (u, min, max) => [0, Math.max(5, max * 1.15)] };
      base.series = [{}, { label: 'events/s', stroke: c3, fill: css('--c-3-fill'), width: 1.5, value: (u, v) => (v == null ? '–' : fmtRate(v)) }];
    } else {
      base.scales.y = { range: (u, min, max) => [0, Math.max(1, (max || 0) * 1.15)] };
      base.axes[1] = axis({ size: 52, values: (u, ticks) => ticks.map((v) => (v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v} ms`)) });
      base.series = [{}, { label: 'p50', stroke: c1, width: 1.5, spanGaps: true, value: (u, v) => (v == null ? '–' : fmtMs(v)) },
        { label: 'p99', stroke: c4, width: 1.5, spanGaps: true, value: (u, v) => (v == null ? '–' : fmtMs(v)) }];
    }
    // markers on every point clutter a 4 Hz series; the cursor still shows the one under it
    for (const x of base.series.slice(1)) x.points = { show: false };
    return base;
  }

  function chartData(kind, s) {
    if (!s) return kind === 'replicas' ? [[], [], [], []] : kind === 'rate' ? [[], []] : [[], [], []];
    if (kind === 'lag') return [s.t, s.lag, s.inFlight];
    if (kind === 'replicas') return [s.t, s.desired, s.current, s.busy];
    if (kind === 'rate') return [s.t, s.rate];
    return [s.t, s.p50, s.p99];
  }

  const chartKinds = { 'chart-lag': 'lag', 'chart-replicas': 'replicas', 'chart-rate': 'rate', 'chart-latency': 'latency' };

  function buildCharts() {
    for (const [id, kind] of Object.entries(chartKinds)) {
      const el = $(id);
      if (charts[id]) charts[id].u.destroy();
      el.textContent = '';
      const legend = h('div', { class: 'legend' });
      const opts = chartOptions(el, kind);
      const items = opts.series.slice(1).map((x) => {
        const value = h('span', { class: 'legend-value', text: '–' });
        legend.append(h('span', { class: 'legend-item' }, h('span', { class: 'swatch', style: `background:${x.stroke}` }), h('span', { text: x.label }), value));
        return { value, fmt: x.value };
      });
      charts[id] = { u: null, el, kind, items, time: null };
      const time = h('span', { class: 'legend-time' });
      legend.append(time);
      charts[id].time = time;
      const u = new uPlot(opts, chartData(kind, series.get(selected)), el);
      u.root.dataset.chart = id;
      charts[id].u = u;
      el.append(legend);
      updateLegend(u);
    }
  }

  function updateLegend(u) {
    const c = u.root && charts[u.root.dataset.chart];
    if (!c || !c.items) return;
    const n = u.data[0].length;
    const hovered = u.cursor.idx != null && u.cursor.idx < n;
    const idx = hovered ? u.cursor.idx : n - 1;
    c.items.forEach((item, i) => {
      const v = idx >= 0 ? u.data[i + 1][idx] : null;
      setText(item.value, item.fmt(u, v));
    });
    setText(c.time, hovered ? fmtClock(u.data[0][idx] * 1000) : 'now');
  }

  function updateCharts() {
    const s = series.get(selected);
    for (const c of Object.values(charts)) {
      c.u.setData(chartData(c.kind, s));
      c.el.dataset.points = String(s ? s.t.length : 0);
      updateLegend(c.u);
    }
  }

  const resizeObserver = new ResizeObserver((entries) => {
    for (const e of entries) {
      const c = charts[e.target.id];
      if (!c) continue;
      const width = Math.max(200, Math.floor(e.contentRect.width));
      if (Math.abs(width - c.u.width) > 1) c.u.setSize({ width, height: c.u.height });
    }
  });
  for (const id of Object.keys(chartKinds)) resizeObserver.observe($(id));
  // Colours come from CSS variables, so a theme switch rebuilds the charts.
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    if (selected) buildCharts();
  });

  // ---------- tabs and selection ----------
  function renderTabs() {
    const tabs = $('tabs');
    tabs.textContent = '';
    for (const name of order) {
      const s = series.get(name);
      const pill = h('span', { class: 'pill', 'data-pill': name, text: String(s && s.last ? num(s.last.replicas && s.last.replicas.current) : 0), title: 'current replicas' });
      tabs.append(h('button', { class: 'tab', role: 'tab', type: 'button', 'aria-selected': String(name === selected), onclick: () => select(name) }, name, pill));
    }
    if (!order.length) {
      $('no-components').hidden = false;
      $('component').hidden = true;
      return;
    }
    $('no-components').hidden = true;
    if (!selected || !order.includes(selected)) {
      const fromHash = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
      select(order.includes(fromHash) ? fromHash : order[0]);
    }
  }

  function select(name) {
    if (name === selected) return;
    selected = name;
    if (location.hash !== `#/${encodeURIComponent(name)}`) history.replaceState(null, '', `#/${encodeURIComponent(name)}`);
    for (const b of $('tabs').children) b.setAttribute('aria-selected', String(b.firstChild.textContent === name));
    $('component').hidden = false;
    rows.offset = 0;
    rows.filter = '';
    $('rows-filter').value = '';
    rows.lastRecords = -1;
    rows.lastDone = -1;
    rows.total = -1;
    dlq.lastCount = -1;
    buildCharts();
    render();
    loadRows();
    loadDlq();
  }
  window.addEventListener('hashchange', () => {
    const name = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
    if (order.includes(name)) select(name);
  });

  // ---------- rendering of one component ----------
  let renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      render();
    });
  }

  function hintFor(c) {
    const trigger = c.trigger;
    if (trigger === 'smtp') return ['No events yet — send mail with ', h('code', { text: 'featherweight mail burst' })];
    // --data-binary: curl's -d strips the newlines of a file, which NDJSON and line-based guests need
    if (trigger === 'http' || trigger === 'embedded') return ['No events yet — post one with ', h('code', { text: `curl --data-binary @event.json ${location.origin}/v1/components/${c.name}/events` })];
    if (trigger === 'cron') return ['No events yet — the cron trigger fires on its schedule.'];
    return [`No events yet — publish to the ${trigger} trigger to see this component scale.`];
  }

  function render() {
    // tab pills for every component
    for (const name of order) {
      const s = series.get(name);
      const pill = document.querySelector(`[data-pill="${CSS.escape(name)}"]`);
      if (pill && s && s.last) {
        const cur = num(s.last.replicas && s.last.replicas.current);
        setText(pill, cur);
        pill.classList.toggle('on', cur > 0);
      }
    }
    const s = series.get(selected);
    if (!s || !s.last) return;
    const c = s.last;
    const counters = c.counters || {};
    const replicas = c.replicas || {};
    const latency = c.latencyMs || {};
    const scaler = c.scaler || {};

    setText('comp-name', c.name);
    const flow = $('comp-flow');
    const flowKey = `${c.trigger}|${c.sink}`;
    if (flow.dataset.key !== flowKey) {
      flow.dataset.key = flowKey;
      flow.textContent = '';
      flow.append(h('b', { text: String(c.trigger) }), ' trigger → ', h('b', { text: String(c.sink) }), ' sink');
    }
    const status = $('comp-status');
    const kind = scaler.paused ? 'paused' : scaler.active ? 'active' : 'idle';
    status.dataset.kind = kind;
    setText(status, kind === 'paused' ? 'Paused' : kind === 'active' ? 'Active' : num(replicas.current) > 0 ? 'Cooling down' : 'Idle · scaled to zero');

    const nothingYet = num(counters.processed) === 0 && num(counters.deadLettered) === 0 && num(c.lag) === 0 && num(c.inFlight) === 0;
    const hint = $('hint');
    hint.hidden = !nothingYet;
    if (nothingYet && hint.dataset.key !== c.trigger) {
      hint.dataset.key = c.trigger;
      $('hint-text').textContent = '';
      $('hint-text').append(...hintFor(c));
    }

    // tiles
    const rate = s.rate.length ? s.rate[s.rate.length - 1] : 0;
    const peakRate = s.rate.reduce((m, v) => Math.max(m, v), 0);
    setText('t-processed', fmtInt(num(counters.processed)));
    setText('t-processed-sub', num(counters.retried) ? `${fmtInt(counters.retried)} retried` : 'acknowledged');
    setText('t-rows', fmtInt(num(counters.records)));
    setText('t-rows-sub', typeof counters.firstRowMs === 'number' ? `first row after ${fmtMs(counters.firstRowMs)}` : 'written to the sink');
    setText('t-rate', fmtRate(rate));
    setText('t-rate-sub', `peak ${fmtRate(peakRate)}`);
    setText('t-replicas', `${num(replicas.current)} / ${num(replicas.desired)}`);
    setText('t-replicas-sub', `busy ${num(replicas.busy)} · ${num(replicas.threads)} threads`);
    setText('t-lag', fmtInt(num(c.lag)));
    setText('t-lag-sub', `${fmtInt(num(c.inFlight))} in flight`);
    // quantiles over a time window (latencyMs.windowMs), so they fall away when the component is idle
    const windowLabel = `last ${Math.round(num(latency.windowMs, 60_000) / 1000)} s`;
    setText('t-latency', num(latency.count) ? fmtMs(num(latency.p50)) : '–');
    setText('t-latency-sub', num(latency.count) ? `p99 ${fmtMs(num(latency.p99))}` : `none in the ${windowLabel}`);
    $('tile-latency').title = num(latency.count)
      ? `p50 ${fmtMs(num(latency.p50))}, p99 ${fmtMs(num(latency.p99))} over the ${fmtInt(latency.count)} events of the ${windowLabel} (enqueue → ack)`
      : `no events in the ${windowLabel}`;
    setText('t-latency-label', `Latency p50 · ${Math.round(num(latency.windowMs, 60_000) / 1000)} s`);
    setText('t-cold', fmtInt(num(counters.coldStarts)));
    setText('t-cold-sub', 'waited for a thread');
    setText('t-dead', fmtInt(num(counters.deadLettered)));
    setText('t-dead-sub', num(counters.deadLettered) ? 'see below' : 'none');
    $('tile-dead').dataset.bad = String(num(counters.deadLettered) > 0);

    renderScaling(s, scaler, replicas);
    updateCharts();

    // follow new rows while the reader is on the first page; dead letters when their count moves
    if (num(counters.records) !== rows.lastRecords && rows.offset === 0) maybeReloadRows();
    // an empty table's message counts the events that came without rows, so it follows them too
    else if (rows.total === 0 && doneCount(counters) !== rows.lastDone && rows.offset === 0) maybeReloadRows();
    if (num(counters.deadLettered) !== dlq.lastCount) {
      dlq.lastCount = num(counters.deadLettered);
      loadDlq();
    }
  }

  function renderScaling(s, scaler, replicas) {
    const active = $('s-active');
    active.textContent = '';
    active.append(h('span', { class: scaler.active ? 'yes' : 'no', text: scaler.paused ? 'paused' : scaler.active ? '● active' : '○ inactive' }));
    setText('s-replicas', `desired ${num(scaler.desired, num(replicas.desired))} · current ${num(scaler.current, num(replicas.current))}`);
    setText('s-last-active', fmtAgo(scaler.lastActiveTime));
    const d = scaler.lastDecision;
    const dec = $('s-decision');
    const key = d ? `${d.at}` : '';
    if (dec.dataset.key !== key || !d) {
      dec.dataset.key = key;
      dec.textContent = '';
      if (d) dec.append(`${num(d.from)} → ${num(d.to)}`, h('span', { class: 'reason', text: String(d.reason ?? '') }));
      else dec.append('none yet');
    }
    if (d) {
      setText('scaling-note', `decided ${fmtAgo(d.at)}`);
    } else setText('scaling-note', '');

    // triggers
    const triggers = Array.isArray(scaler.triggers) ? scaler.triggers : [];
    const tbody = $('triggers').tBodies[0];
    const tkey = JSON.stringify(triggers);
    if (tbody.dataset.key !== tkey) {
      tbody.dataset.key = tkey;
      tbody.textContent = '';
      if (!triggers.length) tbody.append(h('tr', null, h('td', { colspan: '5', class: 'muted', text: 'No scaling triggers reported.' })));
      for (const t of triggers) {
        tbody.append(h('tr', null,
          h('td', null, h('span', { text: String(t.name ?? '') }), ' ', h('span', { class: 'muted', text: t.type && t.type !== t.name ? `(${t.type})` : '' }),
            t.error ? h('div', { class: 'err', text: String(t.error) }) : null),
          h('td', { class: 'num', text: fmtValue(t.value) }),
          h('td', { class: 'num', text: fmtValue(t.target) }),
          h('td', { class: 'num', text: fmtValue(t.activationTarget) }),
          h('td', { class: t.active ? 'yes' : 'no', text: t.active ? 'yes' : 'no' })));
      }
    }

    // recent decisions
    const list = $('decisions');
    const dkey = s.decisions.length ? `${s.decisions[0].at}:${s.decisions.length}` : '';
    if (list.dataset.key !== dkey || (s.decisions.length && Date.now() - num(list.dataset.drawn) > 1000)) {
      list.dataset.key = dkey;
      list.dataset.drawn = String(Date.now());
      list.textContent = '';
      if (!s.decisions.length) list.append(h('li', { class: 'muted', text: 'No scaling decisions yet.' }));
      for (const x of s.decisions.slice(0, 20)) {
        list.append(h('li', null,
          h('span', { class: 'when', text: fmtClock(x.at), title: new Date(x.at).toISOString() }),
          h('span', { class: `step ${x.to > x.from ? 'up' : x.to < x.from ? 'down' : ''}`, text: `${x.from} → ${x.to}` }),
          h('span', { class: 'why', text: x.reason })));
      }
    }
  }

  // ---------- rows table ----------
  const rows = { offset: 0, filter: '', lastRecords: -1, lastDone: -1, total: -1, seq: 0, loading: false, pending: false, lastLoad: 0, timer: null };
  const doneCount = (counters) => num(counters.processed) + num(counters.deadLettered);

  function maybeReloadRows() {
    // at most one request in flight and one per second while rows pour in
    const wait = Math.max(0, 1000 - (Date.now() - rows.lastLoad));
    if (rows.timer) return;
    rows.timer = setTimeout(() => {
      rows.timer = null;
      loadRows();
    }, wait);
  }

  async function loadRows() {
    if (!selected) return;
    if (rows.loading) {
      rows.pending = true;
      return;
    }
    const name = selected;
    const s = series.get(name);
    rows.lastRecords = s && s.last ? num(s.last.counters && s.last.counters.records) : rows.lastRecords;
    rows.lastDone = s && s.last ? doneCount(s.last.counters || {}) : rows.lastDone;
    rows.loading = true;
    rows.lastLoad = Date.now();
    const seq = ++rows.seq;
    const q = new URLSearchParams({ limit: String(ROWS_PAGE), offset: String(rows.offset) });
    if (rows.filter) q.set('filter', rows.filter);
    try {
      const res = await fetch(`/v1/components/${encodeURIComponent(name)}/rows?${q}`, { cache: 'no-store' });
      const body = await res.json().catch(() => ({}));
      if (seq !== rows.seq || name !== selected) return;
      if (!res.ok) renderRowsError(body && body.error ? String(body.error) : `HTTP ${res.status}`);
      else renderRows(body);
    } catch (err) {
      if (seq === rows.seq) renderRowsError(`cannot reach the server (${err && err.message ? err.message : err})`);
    } finally {
      rows.loading = false;
      if (rows.pending) {
        rows.pending = false;
        loadRows();
      }
    }
  }

  const hiddenCols = new Set(['event_id', 'record_index', 'created_at']);
  function columnsFor(list) {
    const keys = [];
    for (const r of list) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
    if (['file', 'line', 'text'].every((k) => keys.includes(k))) {
      return ['file', 'line', 'text', ...keys.filter((k) => !['file', 'line', 'text'].includes(k) && !hiddenCols.has(k)), 'created_at'];
    }
    const rest = keys.filter((k) => !hiddenCols.has(k));
    return ['event_id', 'record_index', ...rest, 'created_at'].filter((k) => keys.includes(k));
  }
  const colLabel = { created_at: 'Time', event_id: 'Event', record_index: '#', file: 'File', line: 'Line', text: 'Text' };

  /** Text with every occurrence of the filter wrapped in <mark> (text nodes only). */
  function highlighted(text) {
    const f = rows.filter;
    if (!f || !text.includes(f)) return [text];
    const parts = text.split(f);
    const out = [];
    parts.forEach((p, i) => {
      if (p) out.push(p);
      if (i < parts.length - 1) out.push(h('mark', { text: f }));
    });
    return out;
  }

  function cellText(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  function renderRows(body) {
    const list = Array.isArray(body.rows) ? body.rows : [];
    const total = num(body.total);
    rows.total = total;
    const table = $('rows-table');
    const cols = columnsFor(list);
    table.tHead.textContent = '';
    table.tBodies[0].textContent = '';
    if (list.length) {
      table.tHead.append(h('tr', null, cols.map((k) => h('th', { class: k === 'line' || k === 'record_index' ? 'num' : k === 'created_at' ? 'time' : null, text: colLabel[k] || k }))));
      const frag = document.createDocumentFragment();
      for (const r of list) {
        frag.append(h('tr', null, cols.map((k) => {
          const v = cellText(r[k]);
          if (k === 'created_at') return h('td', { class: 'time', title: v, text: v ? fmtClock(Date.parse(v)) : '' });
          if (k === 'line' || k === 'record_index') return h('td', { class: 'num', text: v });
          if (k === 'event_id') return h('td', { class: 'mono', title: v, text: v.length > 12 ? `${v.slice(0, 8)}…` : v });
          if (k === 'file') return h('td', { class: 'file' }, highlighted(v));
          return h('td', { class: k === 'text' || v.length > 40 ? 'text' : null }, highlighted(v));
        })));
      }
      table.tBodies[0].append(frag);
    }
    table.hidden = !list.length;
    const empty = $('rows-empty');
    empty.hidden = list.length > 0;
    if (!list.length) {
      empty.textContent = '';
      if (rows.filter) empty.append('No rows match ', h('code', { text: rows.filter }), '.');
      else if (rows.offset > 0) empty.append('No rows on this page.');
      else {
        const c = series.get(selected) && series.get(selected).last;
        const counters = (c && c.counters) || {};
        if (!c) empty.append('No rows yet.');
        else if (doneCount(counters) === 0) empty.append(...hintFor(c));
        else empty.append(noRowsYet(counters));
      }
    }
    setText('rows-total', total ? fmtInt(total) : '');
    setText('rows-range', total ? `${fmtInt(rows.offset + 1)}–${fmtInt(Math.min(total, rows.offset + list.length))} of ${fmtInt(total)}${rows.filter ? ' matching' : ''}` : '');
    $('rows-prev').disabled = rows.offset === 0;
    $('rows-next').disabled = rows.offset + list.length >= total;
    $('rows').dataset.total = String(total);
  }

  /** Events came but wrote nothing: say so instead of repeating the "no events yet" hint. */
  function noRowsYet(counters) {
    const ok = num(counters.processed);
    const dead = num(counters.deadLettered);
    const parts = [];
    if (ok) parts.push(`${fmtInt(ok)} ${ok === 1 ? 'event' : 'events'} processed without output records`);
    if (dead) parts.push(`${fmtInt(dead)} dead-lettered (see Dead letters)`);
    return `No rows yet: ${parts.join(', ')}.`;
  }

  function renderRowsError(message) {
    const table = $('rows-table');
    table.hidden = true;
    const empty = $('rows-empty');
    empty.hidden = false;
    empty.textContent = '';
    empty.append(h('span', { class: 'err', text: message }));
    setText('rows-range', '');
    $('rows-prev').disabled = true;
    $('rows-next').disabled = true;
  }

  let filterTimer = null;
  $('rows-filter').addEventListener('input', (e) => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      rows.filter = e.target.value;
      rows.offset = 0;
      loadRows();
    }, 250);
  });
  $('rows-prev').addEventListener('click', () => {
    rows.offset = Math.max(0, rows.offset - ROWS_PAGE);
    loadRows();
  });
  $('rows-next').addEventListener('click', () => {
    rows.offset += ROWS_PAGE;
    loadRows();
  });

  // ---------- dead letters ----------
  const dlq = { lastCount: -1, seq: 0 };
  async function loadDlq() {
    if (!selected) return;
    const name = selected;
    const seq = ++dlq.seq;
    try {
      const res = await fetch(`/v1/dlq?component=${encodeURIComponent(name)}&limit=20`, { cache: 'no-store' });
      if (!res.ok) return;
      const body = await res.json();
      if (seq !== dlq.seq || name !== selected) return;
      renderDlq(Array.isArray(body.deadLetters) ? body.deadLetters : []);
    } catch {
      /* the stream's status shows the connection problem */
    }
  }

  function renderDlq(items) {
    const list = $('dlq-list');
    // an open stderr tail stays open across the reloads that a new dead letter triggers
    const open = new Set([...list.querySelectorAll('details[open]')].map((d) => d.dataset.id));
    list.textContent = '';
    setText('dlq-note', items.length ? `${items.length === 20 ? 'latest 20' : items.length}` : '');
    if (!items.length) {
      list.append(h('li', { class: 'muted', text: 'None. Events that fail every attempt land here with the reason.' }));
      return;
    }
    for (const d of items) {
      const id = String(d.id);
      const err = d.error && typeof d.error === 'object' ? d.error : {};
      const reason = d.reason ? String(d.reason) : `${err.kind ?? 'error'}: ${err.message ?? ''}`;
      const attempts = d.event && typeof d.event.attempt === 'number' ? `${d.event.attempt} ${d.event.attempt === 1 ? 'attempt' : 'attempts'}` : '';
      const eventId = d.event && d.event.id ? String(d.event.id) : '';
      const stderr = typeof d.stderrTail === 'string' ? d.stderrTail.replace(/\s+$/, '') : '';
      const retry = actionButton('Retry', 'put the event back on its source', 'Retrying…', async () => {
        const res = await fetch(`/v1/dlq/${encodeURIComponent(id)}/retry`, { method: 'POST' });
        const body = await res.json().catch(() => ({}));
        if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
      });
      const drop = actionButton('Drop', 'delete this dead letter for good', 'Dropping…', async () => {
        const res = await fetch(`/v1/dlq/${encodeURIComponent(id)}`, { method: 'DELETE' });
        if (!res.ok && res.status !== 404) {
          const body = await res.json().catch(() => ({}));
          throw new Error(body.error || `HTTP ${res.status}`);
        }
      }, 'Drop for good?');
      list.append(h('li', { 'data-id': id },
        h('div', { class: 'dlq-row' },
          h('span', { class: 'dlq-meta', text: [fmtAgo(d.createdAt), attempts].filter(Boolean).join(' · ') }),
          h('span', { class: 'dlq-actions' }, retry, drop)),
        h('div', { class: 'dlq-reason', text: reason }),
        h('div', { class: 'dlq-ids' },
          h('span', { class: 'muted', text: 'dead letter ' }), h('code', { class: 'dlq-id', text: id }),
          eventId ? [h('span', { class: 'muted', text: ' · event ' }), h('code', { class: 'dlq-event', text: eventId })] : null),
        stderr
          ? h('details', { class: 'dlq-stderr', 'data-id': id, open: open.has(id) },
            h('summary', { text: `stderr (last ${stderr.split('\n').length} ${stderr.split('\n').length === 1 ? 'line' : 'lines'})` }),
            h('pre', { text: stderr }))
          : null));
    }
  }

  /**
   * A button that runs `act`, then reloads the dead letters; on failure it shows the error in its
   * title. With `confirmText` the first click only asks and the second acts; moving the focus
   * elsewhere (or Escape) takes the question back.
   */
  function actionButton(label, title, busyText, act, confirmText) {
    const btn = h('button', { type: 'button', text: label, title });
    let armed = false;
    const disarm = () => {
      armed = false;
      if (!btn.disabled) btn.textContent = label;
      btn.classList.remove('danger');
    };
    if (confirmText) {
      btn.addEventListener('blur', disarm);
      btn.addEventListener('keydown', (e) => e.key === 'Escape' && disarm());
    }
    btn.addEventListener('click', async () => {
      if (confirmText && !armed) {
        armed = true;
        btn.textContent = confirmText;
        btn.classList.add('danger');
        return;
      }
      armed = false;
      btn.disabled = true;
      btn.textContent = busyText;
      try {
        await act();
        loadDlq();
      } catch (e) {
        btn.disabled = false;
        btn.textContent = label;
        btn.classList.remove('danger');
        btn.title = String(e && e.message ? e.message : e);
      }
    });
    return btn;
  }

  // ---------- the stream ----------
  function setConn(state, text) {
    const el = $('conn');
    el.dataset.state = state;
    setText('conn-text', text);
  }

  function connect() {
    const es = new EventSource('/v1/stream');
    es.addEventListener('open', () => setConn('live', 'Live'));
    es.addEventListener('history', (e) => {
      let list;
      try {
        list = JSON.parse(e.data);
      } catch {
        return;
      }
      series.clear();
      if (Array.isArray(list)) for (const sample of list) addSample(sample);
      setConn('live', 'Live');
      if (selected && !series.has(selected)) selected = null;
      renderTabs();
      if (selected) buildCharts();
      scheduleRender();
    });
    es.addEventListener('sample', (e) => {
      try {
        addSample(JSON.parse(e.data));
      } catch {
        return;
      }
      scheduleRender();
    });
    es.addEventListener('error', () => setConn('reconnecting', 'Reconnecting…'));
  }

  setInterval(() => {
    const el = $('conn');
    if (el.dataset.state === 'live' && lastSampleAt && Date.now() - lastSampleAt > 3000) setConn('stale', 'No samples');
    else if (el.dataset.state === 'stale' && Date.now() - lastSampleAt <= 3000) setConn('live', 'Live');
  }, 1000);

  fetch('/healthz', { cache: 'no-store' })
    .then((r) => (r.ok ? r.json() : null))
    .then((b) => {
      if (b && b.app) {
        setText('app-name', b.app);
        document.title = `${b.app} · featherweight`;
      }
    })
    .catch(() => {});

  // For tests and curious people: the series behind the charts.
  window.featherweight = {
    series: (name) => {
      const s = series.get(name ?? selected);
      return s ? { t: s.t.slice(), lag: s.lag.slice(), desired: s.desired.slice(), current: s.current.slice(), rate: s.rate.slice(), p50: s.p50.slice(), p99: s.p99.slice(), decisions: s.decisions.slice() } : null;
    },
    selected: () => selected,
  };

  connect();
})();
