// The PromQL editor: a <textarea> over a highlighted <pre> (same font and
// padding, transparent text on top, so the caret and selection are native),
// and a completion list fed by complete.js and the API. Enter runs the
// query, Shift+Enter inserts a newline, Ctrl+Space opens completion.

import { tokenize } from './promql.js';
import { completionContext, rank, selectorsFor, staticCandidates, valueInsert } from './complete.js';
import { labelNames, labelValues, metadata, metricNames } from './api.js';
import { escapeHtml } from './format.js';
import { h } from './dom.js';

/** Highlights PromQL as HTML: one span per token, class `t-<type>`. */
export function highlight(text) {
  let out = '';
  for (const t of tokenize(text).tokens) {
    const s = escapeHtml(t.text);
    out += t.type === 'ws' ? s : `<span class="t-${t.type}">${s}</span>`;
  }
  // A trailing newline needs content after it to take up a line.
  return out + '\n';
}

const TYPE_BADGE = { function: 'f', aggregation: 'a', metric: 'm', keyword: 'k', label: 'l', value: 'v', duration: 'd' };

let idCounter = 0;

/** The editor widget; `el` is its root element. */
export class Editor {
  /**
   * @param {{value?: string, onRun?: () => void, onChange?: (v: string) => void, label?: string}} options
   */
  constructor({ value = '', onRun = () => {}, onChange = () => {}, label = 'Expression (press Shift+Enter for newlines)' } = {}) {
    const id = `cmp-${++idCounter}`;
    this.onRun = onRun;
    this.onChange = onChange;
    this.items = [];
    this.selected = 0;
    this.ctx = null;
    this.seq = 0;
    this.suppress = false;
    this.pre = h('pre', { class: 'editor-hl', 'aria-hidden': 'true' });
    this.ta = h('textarea', {
      class: 'editor-input',
      rows: 1,
      spellcheck: 'false',
      autocomplete: 'off',
      autocapitalize: 'off',
      autocorrect: 'off',
      placeholder: 'Expression (press Shift+Enter for newlines)',
      'aria-label': label,
      role: 'combobox',
      'aria-autocomplete': 'list',
      'aria-expanded': 'false',
      'aria-controls': id,
    });
    this.list = h('ul', { class: 'completions', role: 'listbox', id, hidden: true });
    this.doc = h('div', { class: 'completion-doc', hidden: true });
    this.el = h('div', { class: 'editor' }, this.pre, this.ta, this.list, this.doc);
    this.ta.value = value;
    this.bind();
    this.refresh();
  }

  get value() {
    return this.ta.value;
  }

  set value(v) {
    this.ta.value = v;
    this.refresh();
  }

  focus() {
    this.ta.focus();
  }

  /** Re-highlights and resizes to the content. */
  refresh() {
    this.pre.innerHTML = highlight(this.ta.value);
    this.ta.style.height = 'auto';
    this.ta.style.height = `${this.ta.scrollHeight}px`;
  }

  bind() {
    const ta = this.ta;
    ta.addEventListener('input', () => {
      this.refresh();
      this.onChange(ta.value);
      if (this.suppress) {
        this.suppress = false;
        return;
      }
      this.update(false);
    });
    ta.addEventListener('scroll', () => {
      this.pre.scrollTop = ta.scrollTop;
      this.pre.scrollLeft = ta.scrollLeft;
    });
    ta.addEventListener('keydown', (e) => this.onKey(e));
    ta.addEventListener('blur', () => setTimeout(() => this.close(), 120));
    ta.addEventListener('click', () => this.close());
    // Keep focus in the textarea when clicking the list.
    this.list.addEventListener('mousedown', (e) => e.preventDefault());
    this.list.addEventListener('click', (e) => {
      const li = e.target.closest('li[data-i]');
      if (li) this.accept(Number(li.dataset.i));
    });
  }

  onKey(e) {
    const open = !this.list.hidden && this.items.length > 0;
    if (open) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const d = e.key === 'ArrowDown' ? 1 : -1;
        this.select((this.selected + d + this.items.length) % this.items.length);
        return;
      }
      if ((e.key === 'Enter' && !e.shiftKey) || e.key === 'Tab') {
        e.preventDefault();
        this.accept(this.selected);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        this.close();
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.close();
      this.onRun();
    } else if (e.key === ' ' && e.ctrlKey) {
      e.preventDefault();
      this.update(true);
    }
  }

  /** Recomputes the completion list for the cursor position. */
  async update(explicit) {
    const ta = this.ta;
    if (ta.selectionStart !== ta.selectionEnd) return this.close();
    const ctx = completionContext(ta.value, ta.selectionStart);
    const auto = ctx && (ctx.kind === 'label-name' || ctx.kind === 'label-value' || ctx.kind === 'duration');
    if (!ctx || (ctx.empty && !explicit && !auto)) return this.close();
    const seq = ++this.seq;
    let candidates;
    try {
      candidates = await this.candidates(ctx);
    } catch {
      candidates = staticCandidates(ctx.kind);
    }
    if (seq !== this.seq) return undefined; // A newer keystroke won.
    this.ctx = ctx;
    this.items = rank(candidates, ctx.prefix, 200);
    return this.render();
  }

  /** Candidates for a context: static ones plus API lookups (cached). */
  async candidates(ctx) {
    if (ctx.kind === 'expr') {
      const [names, meta] = await Promise.all([metricNames().catch(() => []), metadata().catch(() => ({}))]);
      const metrics = names.map((n) => {
        const m = meta[n]?.[0];
        return { label: n, type: 'metric', detail: m ? m.type : '', doc: m ? m.help : '', insert: n };
      });
      return [...metrics, ...staticCandidates('expr')];
    }
    if (ctx.kind === 'label-name') {
      const sel = selectorsFor(ctx);
      const names = await labelNames(sel).catch(() => (sel.length ? labelNames([]) : []));
      const used = new Set((ctx.matchers ?? []).map((m) => m.name));
      return names
        .filter((n) => !used.has(n) && !(ctx.metric && n === '__name__'))
        .map((n) => ({ label: n, type: 'label', insert: n }));
    }
    if (ctx.kind === 'label-value') {
      const sel = selectorsFor(ctx);
      const values = await labelValues(ctx.label, sel).catch(() => (sel.length ? labelValues(ctx.label, []) : []));
      return values.map((v) => ({ label: v, type: 'value', insert: valueInsert(v, ctx.quote), quote: ctx.quote }));
    }
    return staticCandidates(ctx.kind);
  }

  render() {
    const { items, list } = this;
    if (items.length === 0) return this.close();
    this.selected = 0;
    const prefix = this.ctx.prefix;
    list.replaceChildren(
      ...items.map((it, i) =>
        h('li', { role: 'option', id: `${list.id}-${i}`, dataset: { i }, class: `cmp-${it.type}` },
          h('span', { class: 'cmp-badge', title: it.type }, TYPE_BADGE[it.type] ?? '?'),
          h('span', { class: 'cmp-text' }, markPrefix(it.label, prefix)),
          it.detail ? h('span', { class: 'cmp-detail' }, it.detail) : null,
        ),
      ),
    );
    list.hidden = false;
    this.ta.setAttribute('aria-expanded', 'true');
    this.position();
    this.select(0);
    return undefined;
  }

  /**
   * Places the list under the start of the word being completed. The
   * highlighted <pre> wraps exactly like the textarea, so a collapsed range
   * at the same character offset in it gives the on-screen position.
   */
  position() {
    const box = this.el.getBoundingClientRect();
    const r = this.caretRect(this.ctx.from);
    let left = 8;
    let top = this.el.offsetHeight;
    if (r && r.height > 0) {
      left = r.left - box.left;
      top = r.bottom - box.top + 2;
    }
    const maxLeft = Math.max(0, this.el.clientWidth - 280);
    this.list.style.left = `${Math.max(0, Math.min(maxLeft, left))}px`;
    this.list.style.top = `${top}px`;
  }

  /** The client rectangle of a collapsed range at `offset` in the mirror. */
  caretRect(offset) {
    const walker = document.createTreeWalker(this.pre, NodeFilter.SHOW_TEXT);
    let pos = 0;
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const len = n.data.length;
      if (offset <= pos + len) {
        const range = document.createRange();
        range.setStart(n, offset - pos);
        range.setEnd(n, offset - pos);
        return range.getBoundingClientRect();
      }
      pos += len;
    }
    return null;
  }

  select(i) {
    this.selected = i;
    const lis = this.list.children;
    for (let k = 0; k < lis.length; k++) lis[k].setAttribute('aria-selected', k === i ? 'true' : 'false');
    const li = lis[i];
    if (li) {
      li.scrollIntoView({ block: 'nearest' });
      this.ta.setAttribute('aria-activedescendant', li.id);
    }
    const it = this.items[i];
    if (it && it.doc) {
      this.doc.textContent = it.doc;
      this.doc.hidden = false;
      this.doc.style.left = this.list.style.left;
      this.doc.style.top = `${parseFloat(this.list.style.top) + this.list.offsetHeight + 2}px`;
    } else {
      this.doc.hidden = true;
    }
  }

  close() {
    this.seq++;
    this.list.hidden = true;
    this.doc.hidden = true;
    this.items = [];
    this.ta.setAttribute('aria-expanded', 'false');
    this.ta.removeAttribute('aria-activedescendant');
  }

  /** Inserts the i-th candidate in place of the word being completed. */
  accept(i) {
    const it = this.items[i];
    const ctx = this.ctx;
    if (!it || !ctx) return;
    const value = this.ta.value;
    let text = it.insert ?? it.label;
    let caretBack = 0;
    const next = value[ctx.to] ?? '';
    if (it.close) {
      if (next === '(') text = text.slice(0, -1);
      else {
        text += it.close;
        caretBack = it.close.length;
      }
    }
    if (it.type === 'value' && it.quote && next !== it.quote) text += it.quote;
    if (it.type === 'value' && it.quote && next === it.quote) caretBack = -1;
    this.close();
    this.suppress = true;
    this.ta.focus();
    this.ta.setSelectionRange(ctx.from, ctx.to);
    // execCommand keeps the browser's undo history; fall back if absent.
    const ok = typeof document.execCommand === 'function' && document.execCommand('insertText', false, text);
    if (!ok) {
      this.ta.setRangeText(text, ctx.from, ctx.to, 'end');
      this.ta.dispatchEvent(new Event('input'));
    }
    const pos = ctx.from + text.length - caretBack;
    this.ta.setSelectionRange(pos, pos);
    this.suppress = false;
  }
}

/** The label with the typed prefix emphasised, as nodes. */
function markPrefix(label, prefix) {
  if (prefix && label.toLowerCase().startsWith(prefix.toLowerCase())) {
    return [h('b', {}, label.slice(0, prefix.length)), label.slice(prefix.length)];
  }
  return [label];
}
