// Runs every corpus case through the reference JSONata implementation and prints one JSON
// array of outcomes: {"value": v} | {"undefined": true} | {"error": "CODE"}.
// Usage: node reference.js <path-to-jsonata-module> <corpus.json>
'use strict';
const fs = require('fs');
const jsonata = require(process.argv[2]);
const corpus = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
(async () => {
  const out = [];
  for (const c of corpus) {
    try {
      const expr = jsonata(c.expr);
      const r = await expr.evaluate(c.input, c.bindings || {});
      const s = JSON.stringify(r);
      out.push(s === undefined ? { undefined: true } : { value: JSON.parse(s) });
    } catch (e) {
      out.push({ error: String(e.code || 'JS:' + (e.message || e)) });
    }
  }
  process.stdout.write(JSON.stringify(out));
})();
