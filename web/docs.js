// Renders /docs/openapi.json as a readable reference: operations grouped by
// tag, each with its parameters, request body and responses.
'use strict';

(function () {
  const root = document.getElementById('docs');

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // resolve: follows a local "$ref" ("#/components/...") to its object.
  function resolve(doc, obj) {
    let o = obj;
    for (let i = 0; o && o.$ref && i < 10; i++) {
      o = o.$ref.replace(/^#\//, '').split('/').reduce((a, k) => (a ? a[k] : undefined), doc);
    }
    return o || {};
  }

  // schemaText: a compact one-level description of a schema.
  function schemaText(doc, schema) {
    const s = resolve(doc, schema);
    if (s.type === 'object' && s.properties) {
      const req = new Set(s.required || []);
      return '{ ' + Object.entries(s.properties).map(([k, v]) => {
        const p = resolve(doc, v);
        const t = p.enum ? p.enum.join('|') : (p.type || 'any');
        return k + (req.has(k) ? '' : '?') + ': ' + t;
      }).join(', ') + (s.additionalProperties === false ? '' : ', …') + ' }';
    }
    if (s.type === 'array') return '[ ' + schemaText(doc, s.items || {}) + ' ]';
    return s.type || 'any';
  }

  function renderOperation(doc, path, method, op) {
    const sec = el('section', 'op');
    sec.id = (method + path).replace(/[^a-z0-9]+/gi, '-');
    const head = el('div', 'op-head');
    head.append(el('span', 'method m-' + method, method.toUpperCase()), el('code', 'path', path),
                el('span', 'summary', op.summary || ''));
    const auth = (op.security || []).map((s) => Object.keys(s)[0]).filter(Boolean);
    if (auth.length) head.append(el('span', 'auth', auth.join(' or ')));
    sec.append(head);
    if (op.description) sec.append(el('p', 'desc', op.description));
    const params = (op.parameters || []).map((p) => resolve(doc, p));
    if (params.length) {
      const t = el('table', 'params');
      t.append(el('caption', null, 'Parameters'));
      for (const p of params) {
        const tr = el('tr');
        tr.append(el('td', null, p.name + (p.required ? '' : '?')), el('td', 'muted', p.in),
                  el('td', 'muted', (p.schema && p.schema.type) || ''), el('td', null, p.description || ''));
        t.append(tr);
      }
      sec.append(t);
    }
    if (op.requestBody) {
      const content = op.requestBody.content || {};
      for (const [type, media] of Object.entries(content)) {
        const p = el('p', 'body');
        p.append(el('b', null, 'Body '), el('span', 'muted', type + ' '), el('code', null, schemaText(doc, media.schema)));
        sec.append(p);
      }
    }
    const ul = el('ul', 'responses');
    for (const [code, r0] of Object.entries(op.responses || {})) {
      const r = resolve(doc, r0);
      const li = el('li');
      li.append(el('span', 'code c' + String(code)[0], code), document.createTextNode(' ' + (r.description || '')));
      const types = Object.keys(r.content || {});
      if (types.length) li.append(el('span', 'muted', ' (' + types.join(', ') + ')'));
      ul.append(li);
    }
    sec.append(ul);
    return sec;
  }

  function render(doc) {
    root.textContent = '';
    const intro = el('section', 'intro');
    intro.append(el('h2', null, doc.info.title + ' ' + doc.info.version), el('p', null, doc.info.description || ''));
    root.append(intro);
    const byTag = new Map((doc.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(method)) continue;
        const tag = (op.tags && op.tags[0]) || 'other';
        if (!byTag.has(tag)) byTag.set(tag, { tag: { name: tag }, ops: [] });
        byTag.get(tag).ops.push([path, method, op]);
      }
    }
    const toc = el('nav', 'toc');
    for (const { tag, ops } of byTag.values()) {
      if (!ops.length) continue;
      const a = el('a', null, tag.name + ' (' + ops.length + ')');
      a.href = '#tag-' + tag.name;
      toc.append(a);
    }
    root.append(toc);
    for (const { tag, ops } of byTag.values()) {
      if (!ops.length) continue;
      const group = el('section', 'tag');
      group.id = 'tag-' + tag.name;
      group.append(el('h2', null, tag.name));
      if (tag.description) group.append(el('p', 'muted', tag.description));
      for (const [path, method, op] of ops) group.append(renderOperation(doc, path, method, op));
      root.append(group);
    }
  }

  fetch('/docs/openapi.json')
    .then((r) => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
    .then(render)
    .catch((e) => { root.textContent = 'Could not load /docs/openapi.json: ' + e.message; });
})();
