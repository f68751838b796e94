// GET /metrics must be valid Prometheus text format 0.0.4, checked by a
// real parser, and carry the counters of the traffic just sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startStack } from './harness.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

test('/metrics parses and counts requests', async () => {
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${stack.baseURL}/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'count me' }] }) });
    assert.equal(r.status, 200);
  }
  const res = await fetch(`http://127.0.0.1:${stack.port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const families = parsePrometheusTextFormat(text);
  const byName = Object.fromEntries(families.map((f) => [f.name, f]));
  const requests = byName.agentgate_http_requests_total;
  assert.ok(requests, 'agentgate_http_requests_total present');
  assert.equal(requests.type, 'COUNTER');
  const chat = requests.metrics.find((m) => m.labels.route === '/v1/chat/completions' && m.labels.code === '200');
  assert.equal(Number(chat.value), 3);
  const latency = byName.agentgate_http_request_duration_seconds;
  assert.equal(latency.type, 'HISTOGRAM');
  const tokens = byName.agentgate_usage_tokens_total;
  assert.ok(tokens.metrics.some((m) => m.labels.model === 'gpt-4o-mini' && Number(m.value) > 0));
});
