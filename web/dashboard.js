// agentgate dashboard: asks for the admin key (kept in sessionStorage), then
// polls the admin API and /metrics every 2 s and draws each panel. Plain DOM
// and SVG; every number shown also sits in a data-value attribute, raw, so
// tests can compare it with what the API reports.
'use strict';

(function () {
  const POLL_MS = 2000;
  const KEY_STORAGE = 'agentgate.adminKey';
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);

  const state = {
    key: sessionStorage.getItem(KEY_STORAGE) || '',
    timer: null,
    last: null,              // {t, total} of the previous poll, for requests/s
    rps: [],                 // the last 60 requests/s samples
    buckets: [],             // latency buckets {le -> count} of the last 31 polls
    breakerStates: new Map(),  // name -> state seen at the previous poll
    transitions: [],         // {t, name, from, to}, newest first
    dlqOpen: false,
  };

  // ---- helpers ---------------------------------------------------------------

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }
  // setValue: shows `text` in #id and keeps the raw value in data-value.
  function setValue(id, raw, text) {
    const e = typeof id === 'string' ? $(id) : id;
    if (!e) return;
    e.dataset.value = raw === null || raw === undefined ? '' : String(raw);
    e.textContent = text !== undefined ? text : (raw === null || raw === undefined ? '–' : String(raw));
  }
  function cell(raw, text, cls) {
    const td = el('td', cls);
    setValue(td, raw, text);
    return td;
  }
  const pct = (x) => (x === null || x === undefined || isNaN(x) ? '–' : (100 * x).toFixed(1) + '%');
  const ms = (x) => (x === null || x === undefined || isNaN(x) ? '–' : Number(x).toFixed(2));
  const int = (x) => (x === null || x === undefined ? '–' : Number(x).toLocaleString('en-US'));
  const clock = (t) => new Date(t).toLocaleTimeString('en-GB');

  async function api(path) {
    const res = await fetch(path, { headers: { Authorization: 'Bearer ' + state.key }, cache: 'no-store' });
    let body = null;
    const text = await res.text();
    try { body = JSON.parse(text); } catch (e) { body = text; }
    return { status: res.status, body };
  }
  function errorText(r) {
    return (r.body && r.body.error && r.body.error.message) || ('HTTP ' + r.status);
  }

  // ---- Prometheus text -------------------------------------------------------

  // parseMetrics: [{name, labels, value}] of the samples in a text exposition.
  function parseMetrics(text) {
    const out = [];
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      const labels = {};
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let l;
      while ((l = re.exec(m[3] || '')) !== null) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
      out.push({ name: m[1], labels, value: Number(m[4]) });
    }
    return out;
  }
  const isProxy = (s) => s.labels.server === 'agentgate' && (s.labels.route || '').startsWith('/v1/');

  // quantile: like histogram_quantile(), over buckets {le -> cumulative count}.
  function quantile(q, buckets) {
    const bounds = [...buckets.keys()].sort((a, b) => a - b);
    if (!bounds.length) return null;
    const total = buckets.get(bounds[bounds.length - 1]);
    if (!total) return null;
    const rank = q * total;
    let prevBound = 0, prevCount = 0;
    for (const b of bounds) {
      const c = buckets.get(b);
      if (c >= rank) {
        if (b === Infinity) return prevBound;
        return prevBound + (b - prevBound) * ((rank - prevCount) / Math.max(c - prevCount, 1e-12));
      }
      prevBound = b;
      prevCount = c;
    }
    return prevBound;
  }

  // ---- panels ----------------------------------------------------------------

  function renderTraffic(samples, now) {
    let total = 0, e4 = 0, e5 = 0;
    const buckets = new Map();
    for (const s of samples) {
      if (s.name === 'agentgate_http_requests_total' && isProxy(s)) {
        total += s.value;
        if (s.labels.code[0] === '4') e4 += s.value;
        if (s.labels.code[0] === '5') e5 += s.value;
      } else if (s.name === 'agentgate_http_request_duration_seconds_bucket' && isProxy(s)) {
        const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
        buckets.set(le, (buckets.get(le) || 0) + s.value);
      }
    }
    let rps = null;
    if (state.last && now > state.last.t) rps = Math.max(0, (total - state.last.total) / ((now - state.last.t) / 1000));
    state.last = { t: now, total };
    if (rps !== null) {
      state.rps.push(rps);
      if (state.rps.length > 60) state.rps.shift();
    }
    setValue('rps', rps === null ? null : Number(rps.toFixed(2)), rps === null ? '…' : rps.toFixed(1));
    setValue('requests-total', total, int(total));
    setValue('errors-4xx', e4, int(e4));
    setValue('errors-5xx', e5, int(e5));
    // Percentiles over the last minute (the buckets now minus those of 30
    // polls ago); since start while the last minute had no request.
    state.buckets.push(buckets);
    if (state.buckets.length > 31) state.buckets.shift();
    const oldest = state.buckets[0];
    const recent = new Map([...buckets].map(([le, c]) => [le, c - (oldest.get(le) || 0)]));
    const useRecent = state.buckets.length > 1 && (recent.get(Infinity) || 0) > 0;
    const hist = useRecent ? recent : buckets;
    $('latency-window').textContent = useRecent ? 'latency over the last minute' : 'latency since start';
    for (const q of [50, 95, 99]) {
      const v = quantile(q / 100, hist);
      setValue('lat-p' + q, v === null ? null : v * 1000, v === null ? '–' : ms(v * 1000));
    }
    drawSparkline($('rps-chart'), state.rps);
  }

  function drawSparkline(chart, values) {
    chart.textContent = '';
    const w = 600, h = 80, max = Math.max(1, ...values);
    chart.append(svg('line', { x1: 0, y1: h - 0.5, x2: w, y2: h - 0.5, class: 'axis' }));
    if (values.length < 2) return;
    const step = w / 59;
    const x0 = w - step * (values.length - 1);
    const pts = values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(h - 4 - (h - 8) * v / max).toFixed(1)}`);
    chart.append(svg('polygon', { points: `${x0},${h} ${pts.join(' ')} ${w},${h}`, class: 'area' }));
    chart.append(svg('polyline', { points: pts.join(' '), class: 'line' }));
    $('rps-scale').textContent = 'requests/s over the last 2 minutes (max ' + max.toFixed(1) + ')';
  }

  function renderStages(r) {
    const tbody = $('stages').tBodies[0];
    tbody.textContent = '';
    if (r.status !== 200) return;
    const fns = Object.entries(r.body.functions || {}).sort(([a], [b]) => a.localeCompare(b));
    for (const [name, m] of fns) {
      const tr = el('tr');
      tr.dataset.function = name;
      tr.append(el('td', null, name), cell(m.calls, int(m.calls)), cell(m.errors, int(m.errors)),
                cell(m.p50_ms, ms(m.p50_ms)), cell(m.p95_ms, ms(m.p95_ms)), cell(m.p99_ms, ms(m.p99_ms)));
      tbody.append(tr);
    }
  }

  function hitBar(rate) {
    const s = svg('svg', { viewBox: '0 0 100 10', class: 'meter', preserveAspectRatio: 'none' });
    s.append(svg('rect', { x: 0, y: 0, width: 100, height: 10, class: 'meter-bg' }));
    s.append(svg('rect', { x: 0, y: 0, width: Math.max(0, Math.min(100, 100 * (rate || 0))), height: 10, class: 'meter-fg' }));
    return s;
  }

  function renderCache(r, samples) {
    const tbody = $('cache-types').tBodies[0];
    tbody.textContent = '';
    if (r.status !== 200) {
      $('cache-note').textContent = errorText(r);
      return;
    }
    const stats = r.body;
    $('cache-note').textContent = stats.enabled ? '' : 'the response cache is disabled (cache.enabled: false)';
    let avoided = 0, chatHits = 0, reported = null;
    for (const type of ['exact', 'semantic', 'embedding']) {
      const s = stats[type];
      if (!s) continue;
      avoided += s.hits || 0;
      if (type !== 'embedding') chatHits += s.hits || 0;
      const saved = s.tokens_saved ?? (s.savings && s.savings.tokens_saved);
      if (saved !== undefined && saved !== null) reported = (reported || 0) + saved;
      const tr = el('tr');
      tr.dataset.type = type;
      const rateCell = cell(s.hit_rate, null, 'rate');
      rateCell.textContent = '';
      rateCell.append(hitBar(s.hit_rate), el('span', null, ' ' + pct(s.hit_rate)));
      tr.append(el('td', null, type), rateCell, cell(s.hits, int(s.hits)), cell(s.misses, int(s.misses)),
                cell(s.entries, int(s.entries)));
      tbody.append(tr);
    }
    setValue('cache-calls-avoided', avoided, int(avoided));
    if (reported !== null) {
      $('cache-tokens-label').textContent = 'tokens saved';
      setValue('cache-tokens-saved', reported, int(reported));
      return;
    }
    // Estimate: answers from the exact and semantic caches times the average
    // tokens of an upstream call (from /metrics).
    let tokens = 0, calls = 0;
    for (const s of samples) {
      if (s.name === 'agentgate_usage_tokens_total') tokens += s.value;
      if (s.name === 'agentgate_upstream_requests_total') calls += s.value;
    }
    const est = calls > 0 ? Math.round(chatHits * tokens / calls) : 0;
    $('cache-tokens-label').textContent = 'tokens saved (est.)';
    $('cache-tokens-saved').title = 'exact + semantic hits x average tokens per upstream call';
    setValue('cache-tokens-saved', est, int(est));
  }

  function renderRateLimits(r, samples) {
    let denied = null, allowed = null;
    for (const s of samples) {
      if (s.name !== 'agentgate_ratelimit_requests_total') continue;
      if (s.labels.outcome === 'allowed') allowed = (allowed || 0) + s.value;
      else denied = (denied || 0) + s.value;
    }
    setValue('rl-denied', denied, int(denied));
    setValue('rl-allowed', allowed, int(allowed));
    const tbody = $('top-users').tBodies[0];
    tbody.textContent = '';
    if (r.status !== 200) {
      $('rl-note').textContent = r.status === 404 ? 'rate limits or their analytics are disabled' : errorText(r);
      return;
    }
    $('rl-note').textContent = '';
    const users = r.body.data || [];
    const max = Math.max(1, ...users.map((u) => u.window_requests || 0));
    for (const u of users) {
      const tr = el('tr');
      tr.dataset.user = u.user_id;
      const bar = el('td');
      bar.append(hitBar((u.window_requests || 0) / max));
      tr.append(el('td', null, u.user_id), cell(u.window_requests, int(u.window_requests)),
                cell(u.allowed, int(u.allowed)), cell(u.denied, int(u.denied), u.denied ? 'bad' : ''), bar);
      tbody.append(tr);
    }
    if (!users.length) $('rl-note').textContent = 'no traffic yet';
  }

  function renderBreakers(r, now) {
    const tbody = $('breaker-table').tBodies[0];
    tbody.textContent = '';
    if (r.status !== 200) {
      $('breaker-note').textContent = errorText(r);
      return;
    }
    $('breaker-note').textContent = r.body.enabled === false ? 'circuit breakers are disabled' : '';
    for (const b of r.body.data || []) {
      const prev = state.breakerStates.get(b.name);
      if (prev !== undefined && prev !== b.state) {
        state.transitions.unshift({ t: now, name: b.name, from: prev, to: b.state });
        state.transitions.length = Math.min(state.transitions.length, 20);
      }
      state.breakerStates.set(b.name, b.state);
      const tr = el('tr');
      tr.dataset.breaker = b.name;
      const st = cell(b.state, b.state, 'state');
      st.classList.add('s-' + b.state.toLowerCase());
      tr.append(el('td', null, b.name), st, cell(b.failure_rate, pct(b.failure_rate)), cell(b.total_calls, int(b.total_calls)),
                cell(b.rejected_calls, int(b.rejected_calls)), cell(b.state_changes, int(b.state_changes)));
      tbody.append(tr);
    }
    const log = $('transitions');
    log.textContent = '';
    for (const t of state.transitions) {
      const li = el('li');
      li.append(el('span', 'muted', clock(t.t) + ' '), el('b', null, t.name), document.createTextNode(': ' + t.from + ' → '),
                el('span', 's-' + t.to.toLowerCase(), t.to));
      log.append(li);
    }
    if (!state.transitions.length) log.append(el('li', 'muted', 'none since this page was opened'));
  }

  async function renderDlq(r) {
    if (r.status !== 200) {
      setValue('dlq-total', null);
      $('dlq-note').textContent = errorText(r);
      return;
    }
    $('dlq-note').textContent = '';
    setValue('dlq-total', r.body.total, int(r.body.total));
    const table = $('dlq-entries');
    table.hidden = !state.dlqOpen;
    if (!state.dlqOpen) return;
    const list = await api('/api/v1/dlq?limit=20');
    const tbody = table.tBodies[0];
    tbody.textContent = '';
    for (const d of (list.status === 200 && list.body.data) || []) {
      const tr = el('tr');
      tr.dataset.id = d.id;
      tr.append(cell(d.id), el('td', null, clock(d.time_ms)), el('td', null, d.user), el('td', null, d.upstream),
                el('td', null, d.model), el('td', 'small', d.error_class + ': ' + d.error));
      tbody.append(tr);
    }
  }

  // Experiments: GET /api/v1/ab-testing/experiments, then results/{id} each.
  function variantsOf(results) {
    return (results.variants || []).map((v) => {
      const ci = v.confidence_interval || [v.ci_low, v.ci_high];
      return { name: v.variant ?? v.name, impressions: v.impressions, conversions: v.conversions,
               rate: v.conversion_rate, lo: ci[0], hi: ci[1] };
    });
  }
  function srmOf(results) {
    const s = results.srm ?? results.sample_ratio_mismatch;
    if (typeof s === 'boolean') return s;
    return !!(s && (s.detected ?? s.flag ?? s.mismatch));
  }

  function ciChart(variants, winner) {
    const rowH = 26, left = 110, width = 420, h = rowH * variants.length + 18;
    // The axis spans the intervals (with a margin), so overlaps are visible.
    const his = variants.map((v) => v.hi ?? v.rate ?? 0), los = variants.map((v) => v.lo ?? v.rate ?? 0);
    const span = Math.max(Math.max(...his) - Math.min(...los), 0.01);
    const min = Math.max(0, Math.min(...los) - span * 0.6), max = Math.min(1, Math.max(...his) + span * 0.1);
    const x = (p) => left + width * Math.max(0, Math.min(1, ((p || 0) - min) / Math.max(max - min, 1e-9)));
    const s = svg('svg', { viewBox: `0 0 ${left + width + 70} ${h}`, class: 'ci-chart' });
    variants.forEach((v, i) => {
      const y = 4 + i * rowH;
      const name = svg('text', { x: 0, y: y + 14, class: 'ci-name' + (v.name === winner ? ' winner' : '') });
      name.textContent = v.name;
      s.append(name);
      s.append(svg('rect', { x: left, y: y + 4, width: Math.max(0, x(v.rate) - left), height: 12,
                             class: 'ci-bar' + (v.name === winner ? ' winner' : '') }));
      if (v.lo !== undefined && v.hi !== undefined && v.lo !== null && v.hi !== null) {
        s.append(svg('line', { x1: x(v.lo), x2: x(v.hi), y1: y + 10, y2: y + 10, class: 'ci-whisker' }));
        for (const p of [v.lo, v.hi]) s.append(svg('line', { x1: x(p), x2: x(p), y1: y + 5, y2: y + 15, class: 'ci-whisker' }));
      }
      const label = svg('text', { x: left + width + 6, y: y + 14, class: 'ci-label' });
      label.textContent = pct(v.rate);
      s.append(label);
    });
    const axis = svg('text', { x: left, y: h - 2, class: 'chart-label' });
    axis.textContent = 'conversion rate with 95% CI (axis ' + pct(min) + ' – ' + pct(max) + ')';
    s.append(axis);
    return s;
  }

  async function renderExperiments(r) {
    const box = $('experiment-list');
    const list = r.status === 200 ? (r.body.experiments || r.body.data || []) : [];
    if (r.status !== 200 && r.status !== 404) {
      box.textContent = '';
      box.append(el('p', 'muted', 'experiments: ' + errorText(r)));
      return;
    }
    if (!list.length) {
      box.textContent = '';
      box.append(el('p', 'muted no-experiments', 'no experiments'));
      return;
    }
    const results = await Promise.all(list.slice(0, 12).map((e) =>
      api('/api/v1/ab-testing/results/' + encodeURIComponent(e.id ?? e.name)).catch(() => ({ status: 0 }))));
    box.textContent = '';
    list.slice(0, 12).forEach((e, i) => {
      const id = e.id ?? e.name;
      const card = el('div', 'experiment');
      card.dataset.experiment = id;
      const head = el('div', 'exp-head');
      head.append(el('b', null, e.name ?? id), el('span', 'pill', e.status || ''));
      card.append(head);
      const res = results[i];
      if (res.status !== 200) {
        card.append(el('p', 'muted', 'results: ' + errorText(res)));
        box.append(card);
        return;
      }
      const rs = res.body;
      const winner = rs.winner ?? null;
      const srm = srmOf(rs);
      const facts = el('div', 'stats');
      const fact = (cls, raw, text, label) => {
        const d = el('div');
        const b = el('b', cls);
        setValue(b, raw, text);
        d.append(b, el('span', null, label));
        return d;
      };
      facts.append(fact('p-value', rs.p_value, rs.p_value === null || rs.p_value === undefined ? '–' : Number(rs.p_value).toPrecision(3),
                        'p-value' + (rs.test ? ' (' + rs.test + ')' : '')),
                   fact('winner', winner ?? '', winner ?? 'none yet', 'winner'),
                   fact('srm' + (srm ? ' bad' : ''), srm, srm ? 'SRM!' : 'ok', 'sample ratio'));
      card.append(facts);
      const variants = variantsOf(rs);
      card.append(ciChart(variants, winner));
      const t = el('table', 'table variants');
      t.append(el('thead'));
      t.tHead.append(el('tr'));
      for (const h of ['variant', 'impressions', 'conversions', 'rate', '95% CI']) t.tHead.rows[0].append(el('th', null, h));
      const tb = el('tbody');
      for (const v of variants) {
        const tr = el('tr');
        tr.dataset.variant = v.name;
        tr.append(el('td', v.name === winner ? 'winner' : '', v.name), cell(v.impressions, int(v.impressions)),
                  cell(v.conversions, int(v.conversions)), cell(v.rate, pct(v.rate)),
                  cell(v.lo === undefined ? null : v.lo + ',' + v.hi, v.lo === undefined ? '–' : pct(v.lo) + ' – ' + pct(v.hi)));
        tb.append(tr);
      }
      t.append(tb);
      card.append(t);
      box.append(card);
    });
  }

  // ---- polling ---------------------------------------------------------------

  async function poll() {
    const now = Date.now();
    const settle = (p) => p.catch((e) => ({ status: 0, body: { error: { message: String(e) } } }));
    const [metrics, perf, cache, top, breakers, dlq, exps] = await Promise.all([
      settle(fetch('/metrics', { cache: 'no-store' }).then(async (r) => ({ status: r.status, body: await r.text() }))),
      settle(api('/api/v1/performance/metrics')),
      settle(api('/api/v1/cache/stats')),
      settle(api('/api/v1/ratelimit/top-users?window=hour&limit=10')),
      settle(api('/api/v1/circuit-breakers')),
      settle(api('/api/v1/dlq?limit=1')),
      settle(api('/api/v1/ab-testing/experiments')),
    ]);
    if ([perf, cache, breakers].some((r) => r.status === 401 || r.status === 403)) {
      disconnect(errorText(breakers.status === 200 ? perf : breakers));
      return;
    }
    const samples = metrics.status === 200 ? parseMetrics(metrics.body) : [];
    renderTraffic(samples, now);
    renderStages(perf);
    renderCache(cache, samples);
    renderRateLimits(top, samples);
    renderBreakers(breakers, now);
    await renderDlq(dlq);
    await renderExperiments(exps);
    const st = $('status');
    st.textContent = 'updated ' + clock(now);
    st.dataset.polls = String(Number(st.dataset.polls || 0) + 1);
    st.className = 'status';
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(async () => {
      try { await poll(); } catch (e) { $('status').textContent = 'error: ' + e.message; }
      if (state.key) schedule();
    }, POLL_MS);
  }

  async function connect(key) {
    state.key = key;
    $('key-error').textContent = '';
    try {
      await poll();
    } catch (e) {
      $('status').textContent = 'error: ' + e.message;
    }
    if (!state.key) return;  // rejected
    sessionStorage.setItem(KEY_STORAGE, key);
    $('key-form').hidden = true;
    $('panels').hidden = false;
    $('forget-key').hidden = false;
    schedule();
  }

  function disconnect(message) {
    clearTimeout(state.timer);
    state.key = '';
    sessionStorage.removeItem(KEY_STORAGE);
    $('key-form').hidden = false;
    $('panels').hidden = true;
    $('forget-key').hidden = true;
    $('key-error').textContent = message || '';
    $('status').textContent = 'not connected';
  }

  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = $('admin-key').value.trim();
    if (key) connect(key);
  });
  $('forget-key').addEventListener('click', () => disconnect(''));
  $('dlq-link').addEventListener('click', (ev) => {
    ev.preventDefault();
    state.dlqOpen = !state.dlqOpen;
    $('dlq-link').textContent = state.dlqOpen ? 'hide the entries' : 'show the latest entries';
    if (state.key) poll();
  });

  if (state.key) connect(state.key);
})();
