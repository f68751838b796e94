// GET /docs/openapi.json must be a valid OpenAPI 3 document (checked by
// swagger-parser, which also resolves every $ref), and /docs must serve the
// page that renders it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startStack } from './harness.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

test('/docs/openapi.json validates as OpenAPI 3', async () => {
  const res = await fetch(`http://127.0.0.1:${stack.port}/docs/openapi.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const doc = await res.json();
  assert.match(doc.openapi, /^3\./);
  const api = await SwaggerParser.validate(structuredClone(doc));
  assert.ok(Object.keys(api.paths).length > 30);
  assert.ok(api.paths['/v1/chat/completions'].post);
});

test('/docs serves the reference page and its script', async () => {
  const page = await fetch(`http://127.0.0.1:${stack.port}/docs`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(page.headers.get('content-security-policy'), /script-src 'self'/);
  assert.match(await page.text(), /<script src="\/ui\/docs.js"><\/script>/);
  const js = await fetch(`http://127.0.0.1:${stack.port}/ui/docs.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  const missing = await fetch(`http://127.0.0.1:${stack.port}/ui/openapi.json`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.type, 'not_found_error');
});
