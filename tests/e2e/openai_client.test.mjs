// The official `openai` npm client, pointed at agentgate instead of the
// provider, must work unchanged: completions, streams, embeddings, and the
// library's own error classes for upstream 401/429/500.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStack } from './harness.mjs';

let stack;
let client;

before(async () => {
  stack = await startStack();
  client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'client-key', maxRetries: 0, timeout: 10000 });
});
after(async () => { await stack?.stop(); });

test('chat completion', async () => {
  const r = await client.chat.completions.create({
    model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello from the openai client' }] });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.content, 'Echo: hello from the openai client');
  assert.ok(r.usage.total_tokens > 0);
});

test('streamed chat completion arrives in pieces with usage', async () => {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'one two three four five' }] });
  let text = '';
  let chunks = 0;
  let usage = null;
  for await (const chunk of stream) {
    chunks += 1;
    if (chunk.choices[0]?.delta?.content) text += chunk.choices[0].delta.content;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(chunks >= 4, `only ${chunks} chunks`);
  assert.equal(text, 'Echo: one two three four five');
  assert.ok(usage && usage.completion_tokens > 0);
});

test('embeddings (the client asks for base64 by default)', async () => {
  const r = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a cat sat', 'a cat sat down'] });
  assert.equal(r.data.length, 2);
  assert.equal(r.data[0].embedding.length, 256);
  const dot = r.data[0].embedding.reduce((s, v, i) => s + v * r.data[1].embedding[i], 0);
  assert.ok(dot > 0.5, `similar texts, cosine ${dot}`);
});

test('legacy completions', async () => {
  const r = await client.completions.create({ model: 'gpt-4o-mini', prompt: 'say hi' });
  assert.ok(r.choices[0].text.length > 0);
});

test('models list', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('gpt-4o-mini'), ids.join(','));
});

test('a repeated streamed completion is replayed from the cache to the same text', async () => {
  const ask = async () => {
    const { data: stream, response } = await client.chat.completions.create({
      model: 'gpt-4o', stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'replay this stream from the cache' }] }).withResponse();
    let text = '';
    let chunks = 0;
    let finish = null;
    for await (const chunk of stream) {
      chunks += 1;
      if (chunk.choices[0]?.delta?.content) text += chunk.choices[0].delta.content;
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
    }
    return { text, chunks, finish, cache: response.headers.get('x-cache') };
  };
  const first = await ask();
  const second = await ask();
  assert.equal(first.cache, 'MISS');
  assert.equal(second.cache, 'HIT');
  assert.equal(second.text, 'Echo: replay this stream from the cache');
  assert.equal(second.text, first.text);
  assert.equal(second.chunks, first.chunks);
  assert.equal(second.finish, 'stop');
});

// Last: it opens the upstream's circuit breaker.
test('upstream errors become the client library\'s error classes', async () => {
  const cases = [
    [401, OpenAI.AuthenticationError],
    [429, OpenAI.RateLimitError],
    [500, OpenAI.InternalServerError],
  ];
  try {
    for (const [status, ErrorClass] of cases) {
      await stack.setFaults({ error_rate: 1, status });
      await assert.rejects(
        client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
        (err) => {
          assert.ok(err instanceof ErrorClass, `${status}: got ${err.constructor.name}`);
          assert.equal(err.status, status);
          return true;
        });
    }
  } finally {
    await stack.setFaults({});
  }
});
