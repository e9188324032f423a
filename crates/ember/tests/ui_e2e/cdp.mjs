// A small Chrome DevTools Protocol client for the UI end-to-end tests:
// launches headless Chromium, talks to it over the browser WebSocket
// (Node 20's `--experimental-websocket`), drives one page through a flat
// session. No npm packages.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects after `ms` with `what` unless `promise` settles first. */
export function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/**
 * A running Chromium. `close()` kills it and removes its profile; it is also
 * called on process exit and on SIGINT/SIGTERM so no browser outlives us.
 */
export class Browser {
  static async launch({ executable = 'chromium', width = 1280, height = 900 } = {}) {
    const profile = mkdtempSync(join(tmpdir(), 'ember-ui-e2e-'));
    const args = [
      '--headless=new', '--remote-debugging-port=0', '--remote-debugging-address=127.0.0.1',
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-dev-shm-usage',
      '--no-first-run', '--no-default-browser-check', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-extensions', '--mute-audio',
      '--password-store=basic', '--use-mock-keychain', '--force-color-profile=srgb',
      `--window-size=${width},${height}`, `--user-data-dir=${profile}`, 'about:blank',
    ];
    const proc = spawn(executable, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const browser = new Browser(proc, profile);
    const wsUrl = await withTimeout(new Promise((resolve, reject) => {
      let err = '';
      proc.on('error', (e) => reject(new Error(`cannot start ${executable}: ${e.message}`)));
      proc.on('exit', (code, sig) => reject(new Error(`${executable} exited (${code ?? sig}) before DevTools was up:\n${err}`)));
      proc.stderr.setEncoding('utf8');
      proc.stderr.on('data', (d) => {
        err += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) resolve(m[1]);
      });
    }), 20000, 'Chromium DevTools endpoint').catch((e) => {
      browser.close();
      throw e;
    });
    browser.conn = await Connection.open(wsUrl);
    return browser;
  }

  constructor(proc, profile) {
    this.proc = proc;
    this.profile = profile;
    this.closed = false;
    this.exitHook = () => this.close();
    this.sigHook = () => {
      this.close();
      process.exit(130);
    };
    process.on('exit', this.exitHook);
    process.on('SIGINT', this.sigHook);
    process.on('SIGTERM', this.sigHook);
  }

  /** Opens a new page (tab) and returns its Page driver. */
  async newPage() {
    const { targetId } = await this.conn.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.conn.send('Target.attachToTarget', { targetId, flatten: true });
    const page = new Page(this.conn, sessionId);
    await page.init();
    return page;
  }

  /** Closes Chromium politely (so its profile can be removed), then close(). */
  async shutdown() {
    if (this.closed) return;
    const exited = new Promise((resolve) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) resolve();
      else this.proc.once('exit', resolve);
    });
    try {
      await this.conn?.send('Browser.close', {}, undefined, 2000);
      await withTimeout(exited, 3000, 'Chromium to exit');
    } catch {
      // close() kills it.
    }
    this.close();
  }

  /** Kills Chromium (synchronous: also used on process exit). */
  close() {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn?.ws.close();
    } catch {
      // already closed
    }
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    try {
      rmSync(this.profile, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Chromium may still be writing; the directory is in /tmp.
    }
  }
}

/** The browser-level WebSocket: commands with ids, events by session. */
class Connection {
  static async open(url) {
    const ws = new WebSocket(url);
    await withTimeout(new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve, { once: true });
      ws.addEventListener('error', () => reject(new Error(`cannot connect to ${url}`)), { once: true });
    }), 10000, 'DevTools WebSocket');
    return new Connection(ws);
  }

  constructor(ws) {
    this.ws = ws;
    this.id = 0;
    this.pending = new Map();
    this.listeners = new Set();
    ws.addEventListener('message', (ev) => {
      const m = JSON.parse(ev.data);
      if (m.id !== undefined) {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.error) p.reject(new Error(`${p.method}: ${m.error.message}${m.error.data ? ` (${m.error.data})` : ''}`));
        else p.resolve(m.result);
        return;
      }
      for (const l of this.listeners) l(m);
    });
    ws.addEventListener('close', () => {
      for (const p of this.pending.values()) p.reject(new Error(`${p.method}: DevTools connection closed`));
      this.pending.clear();
    });
  }

  send(method, params = {}, sessionId = undefined, timeoutMs = 20000) {
    const id = ++this.id;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    const p = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, method }));
    this.ws.send(JSON.stringify(msg));
    return withTimeout(p, timeoutMs, method).finally(() => this.pending.delete(id));
  }
}

const KEYS = {
  Enter: { code: 'Enter', keyCode: 13, text: '\r' },
  Tab: { code: 'Tab', keyCode: 9 },
  Escape: { code: 'Escape', keyCode: 27 },
  Backspace: { code: 'Backspace', keyCode: 8 },
  ArrowDown: { code: 'ArrowDown', keyCode: 40 },
  ArrowUp: { code: 'ArrowUp', keyCode: 38 },
  End: { code: 'End', keyCode: 35 },
  a: { code: 'KeyA', keyCode: 65 },
};

/** One page: navigation, evaluation, input, screenshots, collected problems. */
export class Page {
  constructor(conn, sessionId) {
    this.conn = conn;
    this.sessionId = sessionId;
    /** Uncaught exceptions, console errors and warnings, failed loads. */
    this.problems = [];
    conn.listeners.add((m) => {
      if (m.sessionId !== sessionId) return;
      const p = m.params;
      if (m.method === 'Runtime.exceptionThrown') {
        const d = p.exceptionDetails;
        this.problems.push({ kind: 'exception', text: d.exception?.description ?? d.text, url: d.url ?? '' });
      } else if (m.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'warning' || p.type === 'assert')) {
        this.problems.push({ kind: `console.${p.type}`, text: p.args.map((a) => a.value ?? a.description).join(' '), url: '' });
      } else if (m.method === 'Log.entryAdded' && p.entry.level === 'error') {
        this.problems.push({ kind: `log.${p.entry.source}`, text: p.entry.text, url: p.entry.url ?? '' });
      }
    });
  }

  send(method, params = {}, timeoutMs = 20000) {
    return this.conn.send(method, params, this.sessionId, timeoutMs);
  }

  async init() {
    await Promise.all([this.send('Runtime.enable'), this.send('Log.enable'), this.send('Page.enable')]);
  }

  /** Sets the viewport size and the preferred colour scheme. */
  async viewport(width, height, { dark = false, mobile = false } = {}) {
    await this.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile });
    await this.send('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: dark ? 'dark' : 'light' }] });
  }

  /** Navigates and waits for the load event. */
  async goto(url) {
    const loaded = new Promise((resolve) => {
      const l = (m) => {
        if (m.sessionId === this.sessionId && m.method === 'Page.loadEventFired') {
          this.conn.listeners.delete(l);
          resolve();
        }
      };
      this.conn.listeners.add(l);
    });
    const r = await this.send('Page.navigate', { url });
    if (r.errorText) throw new Error(`navigation to ${url} failed: ${r.errorText}`);
    await withTimeout(loaded, 15000, `load of ${url}`);
  }

  /** Evaluates an expression (awaiting promises) and returns its value. */
  async eval(expression, timeoutMs = 20000) {
    const r = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true, userGesture: true }, timeoutMs);
    if (r.exceptionDetails) {
      const d = r.exceptionDetails;
      throw new Error(`evaluation failed: ${d.exception?.description ?? d.text}\n  in: ${expression.slice(0, 200)}`);
    }
    return r.result.value;
  }

  /** Polls `expression` until it is truthy; returns its value. */
  async waitFor(expression, what, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
      last = await this.eval(expression);
      if (last) return last;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(50);
    }
  }

  /** The centre of the first element matching `selector`, in CSS pixels. */
  async center(selector) {
    const r = await this.eval(`(() => {
      const el = document.querySelector(${JSON.stringify(selector)});
      if (!el) return null;
      el.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      const b = el.getBoundingClientRect();
      return { x: b.x + b.width / 2, y: b.y + b.height / 2, w: b.width, h: b.height };
    })()`);
    if (!r) throw new Error(`no element matches ${selector}`);
    return r;
  }

  async mouse(type, x, y, button = 'none', clickCount = 0) {
    await this.send('Input.dispatchMouseEvent', { type, x, y, button, clickCount });
  }

  /** A real mouse click (move, press, release) on the element's centre. */
  async click(selector) {
    const { x, y } = await this.center(selector);
    await this.mouse('mouseMoved', x, y);
    await this.mouse('mousePressed', x, y, 'left', 1);
    await this.mouse('mouseReleased', x, y, 'left', 1);
  }

  /** Presses a named key (KEYS) with optional modifiers (2 = Ctrl, 8 = Shift). */
  async press(key, modifiers = 0) {
    const k = KEYS[key];
    if (!k) throw new Error(`unknown key ${key}`);
    const base = { key, code: k.code, windowsVirtualKeyCode: k.keyCode, nativeVirtualKeyCode: k.keyCode, modifiers };
    await this.send('Input.dispatchKeyEvent', { type: k.text && !modifiers ? 'keyDown' : 'rawKeyDown', ...base, ...(k.text && !modifiers ? { text: k.text } : {}) });
    await this.send('Input.dispatchKeyEvent', { type: 'keyUp', ...base });
  }

  /** Types text key by key (keydown with text, keyup), as a person would. */
  async type(text, delayMs = 15) {
    for (const ch of text) {
      await this.send('Input.dispatchKeyEvent', { type: 'keyDown', key: ch, text: ch, unmodifiedText: ch });
      await this.send('Input.dispatchKeyEvent', { type: 'keyUp', key: ch });
      if (delayMs) await sleep(delayMs);
    }
  }

  /** A PNG of the viewport (or the whole page) as a Buffer. */
  async screenshot({ fullPage = false } = {}) {
    const params = { format: 'png' };
    if (fullPage) {
      const { cssContentSize: s } = await this.send('Page.getLayoutMetrics');
      params.captureBeyondViewport = true;
      params.clip = { x: 0, y: 0, width: Math.ceil(s.width), height: Math.min(6000, Math.ceil(s.height)), scale: 1 };
    }
    const r = await this.send('Page.captureScreenshot', params, 30000);
    return Buffer.from(r.data, 'base64');
  }
}
