// The dashboard in a real browser: headless Chromium (Debian's package)
// driven by playwright-core opens /dashboard against agentgate and the mock
// upstream after traffic with cache hits and misses, a 429, an open circuit
// breaker and dead letters, enters the admin key, and checks that every panel
// shows what the admin API reports; then renders /docs. Saves screenshots as test artifacts
// (AGENTGATE_ARTIFACT_DIR, else the temp dir).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startStack } from './harness.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ADMIN = 'e2e-admin';
const ARTIFACTS = process.env.AGENTGATE_ARTIFACT_DIR || join(tmpdir(), 'agentgate-artifacts');

let stack, browser, page, base;

async function admin(path, init = {}) {
  const r = await fetch(base + path, { ...init, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', ...(init.headers || {}) } });
  return { status: r.status, body: await r.json().catch(() => null) };
}

async function chat(content, user = 'dash-user') {
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', user, messages: [{ role: 'user', content }] }) });
  await r.arrayBuffer();
  return r.status;
}

// sendTraffic: cache misses and hits (exact and embedding), a 429, then
// upstream failures that open the breaker and leave dead letters.
async function sendTraffic() {
  for (const content of ['alpha', 'beta', 'alpha', 'alpha', 'gamma']) assert.equal(await chat(content), 200);
  // Different lists (the exact cache would answer a repeated one) sharing inputs.
  for (const input of [['one', 'two'], ['two', 'three'], ['three', 'one']]) {
    const r = await fetch(`${base}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'text-embedding-3-small', input, user: 'dash-user' }) });
    assert.equal(r.status, 200);
  }
  const limit = await admin('/api/v1/ratelimit/custom-limit', { method: 'POST',
    body: JSON.stringify({ user_id: 'limited-user', window: 'minute', limit: 2 }) });
  assert.equal(limit.status, 200, JSON.stringify(limit.body));
  const limited = [];
  for (let i = 0; i < 3; i++) limited.push(await chat('limited ' + i, 'limited-user'));
  assert.deepEqual(limited, [200, 200, 429]);
  // An experiment with assignments and outcomes through the admin API.
  const created = await admin('/api/v1/ab-testing/experiments', { method: 'POST',
    body: JSON.stringify({ name: 'dash-exp', variants: ['gpt-4o', 'gpt-4o-mini'], traffic_split: [0.5, 0.5] }) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  for (let i = 0; i < 40; i++) {
    const user_id = `exp-user-${i}`;
    const a = await admin('/api/v1/ab-testing/assign', { method: 'POST', body: JSON.stringify({ experiment_id: 'dash-exp', user_id }) });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const success = a.body.variant === 'gpt-4o' ? i % 4 !== 0 : i % 2 === 0;
    const r = await admin('/api/v1/ab-testing/record', { method: 'POST', body: JSON.stringify({ experiment_id: 'dash-exp', user_id, success }) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  await stack.setFaults({ error_rate: 1, status: 500 });
  assert.equal(await chat('fail 1', 'unlucky-user'), 500);
  assert.equal(await chat('fail 2', 'unlucky-user'), 500);
  assert.equal(await chat('fail 3', 'unlucky-user'), 503);  // the breaker is open
  await stack.setFaults({});
}

// Reads the raw values (data-value) of a table row's cells.
const rowValues = (selector) => page.$eval(selector, (tr) => [...tr.cells].map((c) => c.dataset.value));
const value = (selector) => page.$eval(selector, (e) => e.dataset.value);
// waitPolls: until the page has finished `n` more polls.
async function waitPolls(n) {
  const now = Number(await page.$eval('#status', (e) => e.dataset.polls || 0));
  await page.waitForFunction((target) => Number(document.getElementById('status').dataset.polls || 0) >= target,
                             now + n, { timeout: 15000 });
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/install-e2e-deps (Debian package chromium)`);
  stack = await startStack(`rate_limit:
  enabled: true
  tiers:
    free: {per_second: 1000, per_minute: 10000, per_hour: 100000, per_day: 1000000}
circuit_breaker:
  failure_threshold: 2
error_recovery:
  max_attempts: 1
`);
  base = `http://127.0.0.1:${stack.port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
                                    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [] });
  page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  page.setDefaultTimeout(15000);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

test('the dashboard shows what the admin API reports', { timeout: 90000 }, async () => {
  await sendTraffic();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${base}/dashboard`);
  assert.equal(await page.isVisible('#panels'), false);
  await page.fill('#admin-key', 'wrong-key');
  await page.click('#key-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('key-error').textContent.length > 0);
  assert.equal(await page.isVisible('#panels'), false);

  await page.fill('#admin-key', ADMIN);
  await page.click('#key-form button[type=submit]');
  await page.waitForSelector('#panels', { state: 'visible' });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('agentgate.adminKey')), ADMIN);
  await waitPolls(2);  // two polls after the traffic: stable numbers and a requests/s sample

  // Traffic: totals from /metrics, stages from the profiler.
  const metrics = await (await fetch(`${base}/metrics`)).text();
  let total = 0;
  for (const m of metrics.matchAll(/^agentgate_http_requests_total\{server="agentgate",route="(\/v1\/[^"]*)",code="(\d+)"\} (\d+)/gm)) total += Number(m[3]);
  assert.equal(Number(await value('#requests-total')), total);
  assert.ok(total >= 13);
  assert.equal(Number(await value('#errors-4xx')), 1);
  assert.equal(Number(await value('#errors-5xx')), 3);
  const [p50, p95, p99] = await Promise.all(['#lat-p50', '#lat-p95', '#lat-p99'].map((s) => value(s).then(Number)));
  assert.ok(p50 > 0 && p50 <= p95 && p95 <= p99, `${p50} ${p95} ${p99}`);
  assert.notEqual(await value('#rps'), '');
  assert.equal(await page.textContent('#latency-window'), 'latency since start');  // no request since the page opened
  const perf = (await admin('/api/v1/performance/metrics')).body.functions;
  for (const fn of ['stage.authenticate', 'stage.upstream']) {
    const m = perf[fn];
    assert.deepEqual(await rowValues(`#stages tr[data-function="${fn}"]`),
                     [undefined, ...[m.calls, m.errors, m.p50_ms, m.p95_ms, m.p99_ms].map(String)]);
  }

  // Cache: per type, and the upstream calls avoided.
  const cache = (await admin('/api/v1/cache/stats')).body;
  assert.ok(cache.exact.hits >= 2 && cache.exact.misses >= 3);
  assert.ok(cache.embedding.hits >= 2);
  for (const type of ['exact', 'semantic', 'embedding']) {
    const s = cache[type];
    assert.deepEqual(await rowValues(`#cache-types tr[data-type="${type}"]`),
                     [undefined, String(s.hit_rate), String(s.hits), String(s.misses), String(s.entries)]);
  }
  assert.equal(Number(await value('#cache-calls-avoided')), cache.exact.hits + cache.semantic.hits + cache.embedding.hits);
  assert.ok(Number(await value('#cache-tokens-saved')) > 0);

  // Rate limits: denials from /metrics, top users from the API.
  const top = (await admin('/api/v1/ratelimit/top-users?window=hour&limit=10')).body.data;
  const limited = top.find((u) => u.user_id === 'limited-user');
  assert.equal(limited.denied, 1);
  for (const u of top) {
    assert.deepEqual(await rowValues(`#top-users tr[data-user="${u.user_id}"]`),
                     [undefined, String(u.window_requests), String(u.allowed), String(u.denied), undefined]);
  }
  const denied = [...metrics.matchAll(/^agentgate_ratelimit_requests_total\{outcome="(denied|tokens_denied)"\} (\d+)/gm)]
    .reduce((a, m) => a + Number(m[2]), 0);
  assert.equal(Number(await value('#rl-denied')), denied);
  assert.equal(denied, 1);

  // Circuit breakers: state and transitions.
  const breakers = (await admin('/api/v1/circuit-breakers')).body.data;
  assert.equal(breakers.length, 1);
  const b = breakers[0];
  assert.equal(b.state, 'OPEN');
  assert.deepEqual(await rowValues(`#breaker-table tr[data-breaker="${b.name}"]`),
                   [undefined, 'OPEN', String(b.failure_rate), String(b.total_calls), String(b.rejected_calls), String(b.state_changes)]);
  // A transition while the page watches: reset the breaker, see CLOSED.
  assert.equal((await admin(`/api/v1/circuit-breakers/${b.name}/reset`, { method: 'POST' })).status, 200);
  await page.waitForSelector('#transitions li b', { timeout: 10000 });
  assert.match(await page.textContent('#transitions'), /mock: OPEN → CLOSED/);
  assert.equal(await value(`#breaker-table tr[data-breaker="${b.name}"] td.state`), 'CLOSED');

  // Dead-letter queue: size, and the entries behind the link.
  const dlq = (await admin('/api/v1/dlq?limit=20')).body;
  assert.ok(dlq.total >= 2, JSON.stringify(dlq));
  assert.equal(Number(await value('#dlq-total')), dlq.total);
  await page.click('#dlq-link');
  await page.waitForSelector('#dlq-entries tbody tr');
  const ids = await page.$$eval('#dlq-entries tbody tr', (rows) => rows.map((r) => Number(r.dataset.id)));
  assert.deepEqual(ids, dlq.data.map((d) => d.id));

  // Experiments: the card of dash-exp shows what GET results/{id} reports.
  const list = (await admin('/api/v1/ab-testing/experiments')).body.experiments;
  assert.equal(list.length, 1);
  const results = (await admin('/api/v1/ab-testing/results/dash-exp')).body;
  const card = '#experiment-list .experiment[data-experiment="dash-exp"]';
  await page.waitForSelector(card);
  assert.equal(await page.$$eval('#experiment-list .experiment', (e) => e.length), 1);
  assert.equal(await value(`${card} .p-value`), String(results.p_value));
  assert.equal(await value(`${card} .srm`), String(results.sample_ratio_mismatch.detected));
  assert.equal(results.variants.reduce((n, v) => n + v.impressions, 0), 40);
  for (const v of results.variants) {
    assert.deepEqual(await rowValues(`${card} tr[data-variant="${v.variant}"]`),
                     [undefined, String(v.impressions), String(v.conversions), String(v.conversion_rate),
                      v.confidence_interval.map(String).join(',')]);
  }
  assert.equal(await page.$$eval(`${card} .ci-chart .ci-bar`, (e) => e.length), 2);
  assert.deepEqual(errors, []);
});

test('the experiments panel draws variants, intervals, p-value, winner and SRM', { timeout: 60000 }, async () => {
  // The results fields of issue 8, served to the page by the browser.
  const results = {
    experiment_id: 'model-test', status: 'running', test: 'chi_square', p_value: 0.003256, winner: 'gpt-4o',
    variants: [
      { variant: 'gpt-4o', impressions: 1000, conversions: 850, conversion_rate: 0.85, confidence_interval: [0.8263, 0.8708] },
      { variant: 'gpt-4o-mini', impressions: 1000, conversions: 800, conversion_rate: 0.8, ci_low: 0.7741, ci_high: 0.8236 },
    ],
    sample_ratio_mismatch: { detected: true, p_value: 0.0004 },
  };
  await page.route('**/api/v1/ab-testing/experiments', (r) =>
    r.fulfill({ json: { experiments: [{ id: 'model-test', name: 'model-test', status: 'running' }] } }));
  await page.route('**/api/v1/ab-testing/results/model-test', (r) => r.fulfill({ json: results }));
  // Traffic while the page watches, for the requests/s chart of the screenshot.
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 5; j++) assert.equal(await chat(`watched ${i} ${j}`), 200);
    await waitPolls(1);
  }
  assert.equal(await page.textContent('#latency-window'), 'latency over the last minute');
  assert.equal(await page.$$eval('#rps-chart polyline', (e) => e.length), 1);
  await page.waitForSelector('#experiment-list .experiment[data-experiment="model-test"]');
  const card = '#experiment-list .experiment[data-experiment="model-test"]';
  assert.equal(await value(`${card} .p-value`), '0.003256');
  assert.equal(await value(`${card} .winner`), 'gpt-4o');
  assert.equal(await value(`${card} .srm`), 'true');
  assert.deepEqual(await rowValues(`${card} tr[data-variant="gpt-4o"]`), [undefined, '1000', '850', '0.85', '0.8263,0.8708']);
  assert.deepEqual(await rowValues(`${card} tr[data-variant="gpt-4o-mini"]`), [undefined, '1000', '800', '0.8', '0.7741,0.8236']);
  assert.equal(await page.$$eval(`${card} .ci-chart .ci-bar`, (e) => e.length), 2);
  assert.equal(await page.$$eval(`${card} .ci-chart .ci-whisker`, (e) => e.length), 6);

  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = join(ARTIFACTS, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(existsSync(shot));
  console.log(`screenshot: ${shot}`);
});

test('/docs renders every operation of the OpenAPI document', { timeout: 60000 }, async () => {
  const doc = await (await fetch(`${base}/docs/openapi.json`)).json();
  const methods = ['get', 'put', 'post', 'delete', 'patch'];
  const ops = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).filter((m) => methods.includes(m)).length, 0);
  const docs = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  docs.on('pageerror', (e) => errors.push(e.message));
  await docs.goto(`${base}/docs`);
  await docs.waitForSelector('section.op');
  assert.equal(await docs.$$eval('section.op', (e) => e.length), ops);
  assert.match(await docs.textContent('#post-v1-chat-completions'), /OpenAI chat completions/);
  mkdirSync(ARTIFACTS, { recursive: true });
  await docs.screenshot({ path: join(ARTIFACTS, 'docs.png') });
  await docs.close();
  assert.deepEqual(errors, []);
});
