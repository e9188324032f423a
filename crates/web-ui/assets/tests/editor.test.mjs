import test from 'node:test';
import assert from 'node:assert/strict';
import { highlight } from '../editor.js';

test('highlighting wraps tokens and escapes HTML', () => {
  const html = highlight('rate(foo{a="<b>"}[5m])');
  assert.match(html, /<span class="t-function">rate<\/span>/);
  assert.match(html, /<span class="t-label">a<\/span>/);
  assert.match(html, /<span class="t-string">&quot;&lt;b&gt;&quot;<\/span>/);
  assert.match(html, /<span class="t-duration">5m<\/span>/);
  assert.ok(html.endsWith('\n'));
  // The text content is the input.
  const text = html.replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&#39;/g, "'");
  assert.equal(text, 'rate(foo{a="<b>"}[5m])\n');
});
