// The dashboard of `mstar serve`: one page, routed by the URL's hash, that
// reads the JSON API (docs/serve.md) and polls it while work is running.
'use strict';

const STATES = ['done', 'cached', 'running', 'failed', 'pending', 'skipped', 'interrupted'];
const POLL_MS = 2000;
let timer = null;
let chart = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

async function api(path, params) {
  const q = new URLSearchParams(params || {}).toString();
  const res = await fetch('/api/' + path + (q ? '?' + q : ''));
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

function fmt(v) {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  return String(v);
}

function time(t) { return t > 0 ? new Date(t * 1000).toLocaleString() : '-'; }

function progressBar(counts, total) {
  const bar = el('div', { class: 'bar', title: STATES.map((s) => s + ' ' + (counts[s] || 0)).join(', ') });
  for (const s of STATES) if (counts[s]) bar.append(el('span', { class: s, style: 'width:' + (100 * counts[s] / total) + '%' }));
  return bar;
}

function countsText(counts) {
  return STATES.filter((s) => counts[s]).map((s) => s + ' ' + counts[s]).join(' · ');
}

function setMain(...children) {
  const main = document.getElementById('main');
  main.replaceChildren(...children);
  return main;
}

function poll(fn) {
  clearTimeout(timer);
  const tick = async () => {
    let again = false;
    try { again = await fn(); } catch (e) { document.getElementById('live').textContent = 'error: ' + e.message; }
    document.getElementById('live').textContent = again ? 'live · updated ' + new Date().toLocaleTimeString() : '';
    if (again) timer = setTimeout(tick, POLL_MS);
  };
  return tick();
}

// ---------------------------------------------------------------- sweeps

async function showSweeps() {
  const body = el('tbody');
  setMain(el('h2', {}, 'Sweeps'),
          el('table', { id: 'sweeps' }, el('thead', {}, el('tr', {}, ['sweep', 'progress', 'node instances', 'trials', 'updated'].map((h) => el('th', {}, h)))), body));
  await poll(async () => {
    const sweeps = await api('sweeps');
    body.replaceChildren(...sweeps.map((s) => {
      return el('tr', { 'data-sweep': s.id },
                el('td', {}, el('a', { href: '#/sweep/' + s.id }, s.name), ' ', el('small', {}, s.id)),
                el('td', {}, progressBar(s.nodes, s.instances || 1)),
                el('td', { class: 'counts' }, countsText(s.nodes)),
                el('td', {}, countsText(s.trials)),
                el('td', {}, time(s.updated)));
    }));
    if (!sweeps.length) body.append(el('tr', {}, el('td', { colspan: 5 }, 'no sweeps yet: run one with mstar run FILE.yaml')));
    return true;  // keep polling: a sweep started later appears here
  });
}

// ---------------------------------------------------------------- one sweep

async function showSweep(id) {
  const where = el('input', { type: 'text', id: 'where', placeholder: "e.g. params.train.scale > 1 and status = 'done'" });
  const error = el('div', { class: 'error', id: 'where-error' });
  const table = el('table', { id: 'trials' });
  const progress = el('div', { id: 'progress' });
  const keySel = el('select', { id: 'curve-key' });
  const smooth = el('input', { type: 'range', id: 'smooth', min: 0, max: 0.99, step: 0.01, value: 0 });
  const seeds = el('input', { type: 'checkbox', id: 'seeds' });
  const canvas = el('canvas', { id: 'curve' });
  const curveError = el('div', { class: 'error', id: 'curve-error' });
  const diffBtn = el('button', { id: 'diff', disabled: '' }, 'compare the two ticked runs');
  const pivotRows = el('select', { id: 'pivot-rows' }, el('option', { value: '' }, '(one row)'));
  const pivotCols = el('select', { id: 'pivot-columns' }, el('option', { value: '' }, '(no pivot)'));
  const pivotMetric = el('select', { id: 'pivot-metric' });
  const pivotTable = el('table', { id: 'pivot' });
  const pivotError = el('div', { class: 'error', id: 'pivot-error' });
  const picked = new Set();
  setMain(el('h2', { id: 'sweep-title' }, 'Sweep ' + id), progress,
          el('p', {}, 'filter: ', where, ' ', el('button', { id: 'apply', onclick: () => refresh() }, 'apply'), ' ', diffBtn), error, table,
          el('h3', {}, 'Pivot'),
          el('p', {}, 'rows ', pivotRows, ' columns ', pivotCols, ' cells: mean ± 95% CI over seeds of ', pivotMetric),
          pivotError, pivotTable,
          el('h3', {}, 'Learning curves'),
          el('p', {}, keySel, ' smoothing ', smooth, ' ', el('label', {}, seeds, ' mean and 95% CI over seeds')),
          curveError, el('div', { class: 'chartbox' }, canvas));
  where.addEventListener('keydown', (e) => { if (e.key === 'Enter') refresh(); });
  diffBtn.addEventListener('click', () => { location.hash = '#/diff/' + [...picked].join('/'); });
  for (const c of [keySel, smooth, seeds]) c.addEventListener('change', () => drawCurves());
  for (const c of [pivotRows, pivotCols, pivotMetric]) c.addEventListener('change', () => drawPivot());

  async function refresh() {
    let runs;
    try {
      runs = await api('runs', { target: id, where: where.value });
      error.textContent = '';
    } catch (e) {
      error.textContent = e.message;
      return;
    }
    const head = el('tr', {}, el('th', {}, ''), runs.columns.map((c) => el('th', {}, c)));
    const rows = runs.rows.map((row, i) => {
      const rid = runs.run_ids[i];
      const box = el('input', { type: 'checkbox' });
      box.checked = picked.has(rid);
      box.addEventListener('change', () => {
        box.checked ? picked.add(rid) : picked.delete(rid);
        diffBtn.disabled = picked.size !== 2;
      });
      return el('tr', { 'data-run': rid }, el('td', {}, box),
                row.map((v, j) => el('td', { class: typeof v === 'number' ? 'num' : '' },
                                     j === 0 ? el('a', { href: '#/run/' + rid }, fmt(v)) : fmt(v))));
    });
    table.replaceChildren(el('thead', {}, head), el('tbody', {}, rows));
    await drawPivot();
    await drawCurves();
  }

  async function drawPivot() {
    if (!pivotCols.value) {
      pivotTable.replaceChildren();
      pivotError.textContent = '';
      return;
    }
    try {
      const t = await api('pivot', { target: id, where: where.value, rows: pivotRows.value, columns: pivotCols.value,
                                     metric: pivotMetric.value });
      pivotError.textContent = '';
      pivotTable.replaceChildren(el('thead', {}, el('tr', {}, t.columns.map((c) => el('th', {}, c)))),
                                 el('tbody', {}, t.rows.map((row) => el('tr', {}, row.map((v) => el('td', { class: 'num' }, fmt(v)))))));
    } catch (e) {
      pivotError.textContent = e.message;
    }
  }

  async function drawCurves() {
    const key = keySel.value;
    if (!key) return;
    try {
      const data = await api('curves', { target: id, where: where.value, key, smooth: smooth.value, seeds: seeds.checked ? 'mean' : 'runs' });
      curveError.textContent = '';
      plot(canvas, data);
    } catch (e) {
      curveError.textContent = e.message;
    }
  }

  await poll(async () => {
    const sweeps = await api('sweeps');
    const s = sweeps.find((x) => x.id === id || x.name === id);
    if (!s) throw new Error('no sweep ' + id);
    document.getElementById('sweep-title').textContent = 'Sweep ' + s.name;
    progress.replaceChildren(progressBar(s.nodes, s.instances || 1), el('span', { id: 'progress-text' }, countsText(s.nodes)));
    if (!keySel.options.length) {
      const series = await api('series', { target: id });
      for (const k of series.keys) keySel.append(el('option', { value: k }, k));
      pivotRows.replaceChildren(pivotRows.options[0]);  // series is asked again until there are keys
      pivotCols.replaceChildren(pivotCols.options[0]);
      pivotMetric.replaceChildren();
      for (const a of series.axes) {
        pivotRows.append(el('option', { value: a }, a));
        pivotCols.append(el('option', { value: a }, a));
      }
      pivotRows.append(el('option', { value: 'seed' }, 'seed'));  // each seed's value, beside the mean over them
      for (const m of series.metrics) pivotMetric.append(el('option', { value: m }, m));
    }
    await refresh();
    return (s.trials.running || 0) > 0;
  });
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function plot(canvas, data) {
  if (!window.Chart) {
    canvas.replaceWith(el('p', { id: 'curve' }, 'curves need Chart.js: install libjs-chart.js and rebuild mstar'));
    return;
  }
  const datasets = [];
  data.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const line = { label: s.label, data: s.points.map((p) => ({ x: p.x, y: p.y })), borderColor: color,
                   backgroundColor: color, pointRadius: 0, borderWidth: 1.5, spanGaps: true };
    if (s.points.some((p) => p.lo !== undefined)) {
      const band = (k) => s.points.map((p) => ({ x: p.x, y: p[k] === undefined ? p.y : p[k] }));
      datasets.push({ label: s.label + ' lo', data: band('lo'), pointRadius: 0, borderWidth: 0, band: true });
      datasets.push({ label: s.label + ' hi', data: band('hi'), pointRadius: 0, borderWidth: 0, band: true,
                      fill: '-1', backgroundColor: color + '33' });
    }
    datasets.push(line);
  });
  canvas.dataset.series = String(data.series.length);
  if (chart) chart.destroy();
  chart = new Chart(canvas, {
    type: 'line',
    data: { datasets },
    options: {
      animation: false, maintainAspectRatio: false, parsing: true,
      scales: { x: { type: 'linear', title: { display: true, text: 'step' } }, y: { title: { display: true, text: data.y_label } } },
      plugins: { title: { display: true, text: data.title },
                 legend: { labels: { filter: (item, d) => !d.datasets[item.datasetIndex].band } } },
    },
  });
}

// ---------------------------------------------------------------- one run

function lineage(nodes) {
  // Layers by longest path from a source, drawn left to right.
  const depth = {};
  const byName = Object.fromEntries(nodes.map((n) => [n.node, n]));
  const d = (name, seen) => {
    if (depth[name] !== undefined) return depth[name];
    if (seen.has(name) || !byName[name]) return 0;
    seen.add(name);
    const ups = Object.values(byName[name].inputs);
    return (depth[name] = ups.length ? 1 + Math.max(...ups.map((u) => d(u, seen))) : 0);
  };
  nodes.forEach((n) => d(n.node, new Set()));
  const rows = {};
  const pos = {};
  for (const n of nodes) {
    const x = depth[n.node];
    rows[x] = (rows[x] || 0) + 1;
    pos[n.node] = { x: 20 + x * 190, y: 20 + (rows[x] - 1) * 60 };
  }
  const height = 40 + 60 * Math.max(1, ...Object.values(rows));
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'lineage');
  svg.setAttribute('width', 40 + 190 * (1 + Math.max(0, ...Object.values(depth))));
  svg.setAttribute('height', height);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text) e.textContent = text;
    svg.append(e);
  };
  for (const n of nodes)
    for (const up of Object.values(n.inputs))
      if (pos[up]) add('line', { x1: pos[up].x + 150, y1: pos[up].y + 18, x2: pos[n.node].x, y2: pos[n.node].y + 18, stroke: '#888' });
  for (const n of nodes) {
    const p = pos[n.node];
    add('rect', { x: p.x, y: p.y, width: 150, height: 36, rx: 4, class: n.status, opacity: 0.35 });
    add('text', { x: p.x + 6, y: p.y + 15 }, n.node);
    add('text', { x: p.x + 6, y: p.y + 30 }, n.plugin);
  }
  return svg;
}

async function showRun(id) {
  const r = await api('run', { id });
  const params = Object.entries(r.params).map(([k, v]) => el('tr', {}, el('td', {}, k), el('td', {}, JSON.stringify(v))));
  const nodes = r.nodes.map((n) => el('tr', {},
    el('td', {}, n.node), el('td', {}, n.plugin + ' ' + n.version), el('td', { class: n.status }, n.status),
    el('td', {}, Object.entries(n.inputs).map(([k, v]) => k + ' ← ' + v).join(', ')),
    el('td', {}, Object.entries(n.summaries).map(([k, v]) => k + ' = ' + fmt(v)).join(', ')),
    el('td', {}, n.rollouts ? el('a', { href: '#/rollouts/' + r.id + '/' + n.node }, 'rollouts') : ''),
    el('td', {}, el('small', {}, n.cache_key.slice(0, 12) + (n.reason ? ' — ' + n.reason : '')))));
  setMain(el('h2', {}, 'Run ' + r.name), el('p', {}, r.id + ' · ' + r.status + ' · seed ' + r.seed + ' · ' + time(r.created) +
          (r.sweep ? ' · ' : ''), r.sweep ? el('a', { href: '#/sweep/' + r.sweep }, 'sweep') : ''),
          el('h3', {}, 'Lineage'), lineage(r.nodes),
          el('h3', {}, 'Nodes'), el('table', { id: 'nodes' }, el('tr', {}, ['node', 'plugin', 'state', 'inputs', 'summaries', '', 'instance'].map((h) => el('th', {}, h))), nodes),
          el('h3', {}, 'Params'), el('table', {}, params));
}

async function showDiff(a, b) {
  const d = await api('diff', { a, b });
  const row = (k, va, vb, differs) => el('tr', { class: differs ? 'differs' : '' }, el('td', {}, k), el('td', {}, va), el('td', {}, vb));
  setMain(el('h2', {}, 'Two runs side by side'),
          el('table', { id: 'diff-params' }, el('tr', {}, el('th', {}, ''), el('th', {}, el('a', { href: '#/run/' + d.a.id }, 'A ' + d.a.name)), el('th', {}, el('a', { href: '#/run/' + d.b.id }, 'B ' + d.b.name))),
                d.params.map((p) => row(p.key, JSON.stringify(p.a), JSON.stringify(p.b), p.differs)),
                d.metrics.map((m) => row(m.metric, fmt(m.a), fmt(m.b), m.a !== m.b))));
}

async function showRollouts(run, node) {
  const r = await api('rollouts', { run, node });
  const groups = r.groups.map((g) => el('div', { class: 'group' },
    g.image_url ? el('img', { src: g.image_url, alt: 'image of step ' + g.step }) : el('div', {}, g.image ? '(image outside the store)' : '(no image)'),
    el('div', {}, el('div', {}, el('b', {}, 'step ' + g.step), ' · answer ', fmt(g.answer)),
       el('div', { class: 'response prompt' }, g.prompt),
       el('table', {}, el('tr', {}, ['response', 'reward', 'components', 'advantage'].map((h) => el('th', {}, h))),
          (g.samples || []).map((s) => el('tr', {}, el('td', { class: 'response' }, s.response), el('td', { class: 'num' }, fmt(s.reward)),
                                           el('td', {}, Object.entries(s.components || {}).map(([k, v]) => k + ' ' + fmt(v)).join(', ')),
                                           el('td', { class: 'num' }, fmt(s.advantage))))))));
  setMain(el('h2', {}, 'Rollouts of ', el('a', { href: '#/run/' + run }, run), ' / ' + node),
          el('div', { id: 'rollouts' }, groups.length ? groups : 'no groups logged'));
}

async function route() {
  clearTimeout(timer);
  document.getElementById('live').textContent = '';
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  try {
    if (parts[0] === 'sweep') await showSweep(parts[1]);
    else if (parts[0] === 'run') await showRun(parts[1]);
    else if (parts[0] === 'diff') await showDiff(parts[1], parts[2]);
    else if (parts[0] === 'rollouts') await showRollouts(parts[1], parts[2]);
    else await showSweeps();
  } catch (e) {
    setMain(el('p', { class: 'error', id: 'page-error' }, e.message));
  }
}

window.addEventListener('hashchange', route);
route();
