// docs/operations.md and docs/grafana-dashboard.json against the metrics the
// code declares and a running agentgate serves: every served metric is
// described, and neither document names a metric that does not exist.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack } from './harness.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sources(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (/\.(cc|h)$/.test(name)) out.push(p);
  }
  return out;
}

// The metric names declared in the code (string literals "agentgate_...").
const declared = new Set();
for (const f of [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'include'))]) {
  for (const m of readFileSync(f, 'utf8').matchAll(/"(agentgate_[a-z0-9_]*[a-z0-9])"/g)) declared.add(m[1]);
}
const operations = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
const documented = new Set([...operations.matchAll(/`(agentgate_[a-z0-9_]+)/g)].map((m) => m[1]));

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

test('every metric served is described in docs/operations.md', async () => {
  const r = await fetch(`${stack.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }) });
  assert.equal(r.status, 200);
  const text = await (await fetch(`http://127.0.0.1:${stack.port}/metrics`)).text();
  const served = [...text.matchAll(/^# TYPE (agentgate_[a-z0-9_]+) /gm)].map((m) => m[1]);
  assert.ok(served.length > 20);
  const missing = served.filter((n) => !documented.has(n));
  assert.deepEqual(missing, [], 'add these to the metric tables of docs/operations.md');
});

test('docs/operations.md names only declared metrics', () => {
  assert.ok(documented.size > 20);
  const unknown = [...documented].filter((n) => !declared.has(n));
  assert.deepEqual(unknown, [], 'docs/operations.md names metrics the code does not declare');
});

test('docs/grafana-dashboard.json queries only declared metrics', () => {
  const board = JSON.parse(readFileSync(join(ROOT, 'docs', 'grafana-dashboard.json'), 'utf8'));
  assert.equal(typeof board.title, 'string');
  const panels = board.panels.filter((p) => p.type !== 'row');
  assert.ok(panels.length >= 20);
  const used = new Set();
  for (const p of panels) {
    assert.ok(p.targets && p.targets.length > 0, `panel "${p.title}" has no query`);
    assert.equal(p.datasource.uid, '${datasource}', `panel "${p.title}" must use the board's data source`);
    for (const t of p.targets) {
      for (const m of t.expr.matchAll(/\b(agentgate_[a-z0-9_]+)/g)) used.add(m[1].replace(/_bucket$/, ''));
    }
  }
  const unknown = [...used].filter((n) => !declared.has(n));
  assert.deepEqual(unknown, [], 'the Grafana board queries metrics the code does not declare');
  for (const n of used) assert.ok(documented.has(n), `${n} is on the board but not in docs/operations.md`);
  // The board covers every area.
  for (const n of ['agentgate_http_requests_total', 'agentgate_http_request_duration_seconds', 'agentgate_cache_requests_total',
                   'agentgate_ratelimit_requests_total', 'agentgate_circuit_breaker_state', 'agentgate_dlq_added_total',
                   'agentgate_upstream_failures_total', 'agentgate_redis_connected']) {
    assert.ok(used.has(n), `the board does not show ${n}`);
  }
});
