// End-to-end checks of Ember's built-in web UI in headless Chromium.
//
//   node --experimental-websocket driver.mjs <base-url> <artifact-dir>
//
// Expects a live `ember server` at <base-url> scraping three jobs: `ember`
// (itself, up), `down` (a closed port) and `ui` (1,000 gauges
// `ui_load{i="0".."999"}` whose value is i). Prints one line per check, then
// `N passed, M failed`; exits 1 on any failure. Writes a PNG of every page
// (and of each failing check) to <artifact-dir>, plus `report.json` with the
// 1,000-series render measurements.
//
// Environment: EMBER_UI_E2E_CHROMIUM (default `chromium`),
// EMBER_UI_E2E_DEADLINE_MS (default 75000: the whole run is bounded).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, withTimeout } from './cdp.mjs';

const [base, artifacts] = process.argv.slice(2).map((s, i) => (i === 0 ? s.replace(/\/+$/, '') : s));
if (!base || !artifacts) {
  console.error('usage: node --experimental-websocket driver.mjs <base-url> <artifact-dir>');
  process.exit(2);
}
if (typeof WebSocket === 'undefined') {
  console.error('this Node has no global WebSocket: run Node >= 20 with --experimental-websocket');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const deadlineMs = Number(process.env.EMBER_UI_E2E_DEADLINE_MS || 75000);
const watchdog = setTimeout(() => {
  console.log(`FAIL whole run exceeded ${deadlineMs} ms; aborting`);
  process.exit(1); // The exit hook kills Chromium.
}, deadlineMs);
watchdog.unref();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const js = JSON.stringify;
const results = [];
const report = {};
let browser;
let page;

async function shot(name, opts) {
  const png = await page.screenshot(opts);
  writeFileSync(join(artifacts, `${name}.png`), png);
}

/** Runs one check: prints `ok`/`FAIL`, screenshots a failure. */
async function check(name, fn, timeoutMs = 20000) {
  const t0 = Date.now();
  try {
    const detail = await withTimeout(fn(), timeoutMs, name);
    results.push({ name, ok: true });
    console.log(`ok   ${name}${detail ? ` — ${detail}` : ''} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${e.message.replace(/\n/g, '\n     ')}`);
    try {
      await shot(`FAILED-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`);
    } catch {
      // The page may be gone; the message says why.
    }
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// ------------------------------------------------------------ page helpers --

const EDITOR = '.panel .editor-input';

/** Clears the first panel's editor the way a person does: select, delete. */
async function clearEditor() {
  await page.click(EDITOR);
  await page.eval(`document.querySelector(${js(EDITOR)}).select()`);
  await page.press('Backspace');
  await page.press('Escape');
  assert((await page.eval(`document.querySelector(${js(EDITOR)}).value`)) === '', 'editor did not clear');
}

/** Visible completion items (text of each option). */
const COMPLETIONS = `(() => { const l = document.querySelector('.panel .completions');
  return l && !l.hidden ? [...l.querySelectorAll('li .cmp-text')].map((e) => e.textContent) : []; })()`;

/** Result-table rows as [series text, value text]. */
const TABLE_ROWS = `[...document.querySelectorAll('.panel .result-table tbody tr')]
  .map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent.trim()])`;

/** Legend entries' text. */
const LEGEND = `[...document.querySelectorAll('.panel .legend li')].map((li) => li.textContent)`;

/** Stats line of the first panel (“Load time: …”), '' while loading. */
const STATS = `(() => { const s = document.querySelector('.panel .stats').textContent; return s.startsWith('Load time') ? s : ''; })()`;

/**
 * How many pixels of the chart's data canvas have each of the given CSS
 * colours (±16 per channel, at least half opaque: anti-aliased line pixels
 * are translucent), and how many are painted at all: proof that a series was
 * drawn, not only listed.
 */
async function colorCounts(colors) {
  return page.eval(`(() => {
    const c = document.querySelector('.panel .chart canvas:not(.chart-overlay)');
    if (!c) return null;
    const probe = document.createElement('canvas').getContext('2d', { willReadFrequently: true });
    const want = ${js(colors)}.map((col) => {
      probe.clearRect(0, 0, 1, 1);
      probe.fillStyle = col;
      probe.fillRect(0, 0, 1, 1);
      return [...probe.getImageData(0, 0, 1, 1).data.slice(0, 3)];
    });
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const counts = want.map(() => 0);
    let painted = 0;
    for (let p = 0; p < d.length; p += 4) {
      if (d[p + 3] < 128) continue;
      painted++;
      for (let k = 0; k < want.length; k++) {
        const w = want[k];
        if (Math.abs(d[p] - w[0]) <= 16 && Math.abs(d[p + 1] - w[1]) <= 16 && Math.abs(d[p + 2] - w[2]) <= 16) counts[k]++;
      }
    }
    return { counts, painted, total: d.length / 4 };
  })()`);
}

// The chart's palette (chart.js PALETTE), first four colours.
const PALETTE = ['#1f77b4', '#e6550d', '#2ca02c', '#d62728'];

// ------------------------------------------------------------------ checks --

async function main() {
  browser = await Browser.launch({ executable: process.env.EMBER_UI_E2E_CHROMIUM || 'chromium' });
  page = await browser.newPage();
  await page.viewport(1280, 900);
  console.log(`# Chromium up; UI at ${base}`);

  await check('query: type a query, Enter runs it, the table shows the right rows', async () => {
    await page.goto(`${base}/query`);
    await page.waitFor(`document.activeElement === document.querySelector(${js(EDITOR)})`, 'the editor to take focus');
    await page.type('up');
    await page.press('Escape'); // close the metric completion that typing opened
    await page.press('Enter');
    await page.waitFor(STATS, 'the query to finish');
    const rows = await page.eval(TABLE_ROWS);
    const byJob = Object.fromEntries(rows.map(([s, v]) => [/job="([^"]*)"/.exec(s)?.[1], v]));
    assert(rows.length === 3, `expected 3 rows (ember, down, ui), got ${rows.length}: ${js(rows)}`);
    assert(byJob.ember === '1' && byJob.ui === '1' && byJob.down === '0', `wrong values: ${js(byJob)}`);
    assert(rows.every(([s]) => s.startsWith('up{')), `series should be named up: ${js(rows)}`);
    const search = await page.eval('location.search');
    assert(new URLSearchParams(search).get('g0.expr') === 'up', `URL does not hold the query: ${search}`);
    await shot('query-table');
    return `rows ${rows.map(([s, v]) => `${/job="([^"]*)"/.exec(s)[1]}=${v}`).join(', ')}`;
  });

  await check('graph: right number of series drawn, right legend', async () => {
    await clearEditor();
    await page.type('ui_load{i=~"1|2|3"}');
    await page.press('Escape');
    await page.click('.panel .tab:nth-child(2)'); // Graph tab: runs the range query
    await page.waitFor(`document.querySelector('.panel .tab:nth-child(2)').getAttribute('aria-selected') === 'true'`, 'the Graph tab');
    // A one-minute range: the server has only seconds of data.
    await page.click('.panel input[aria-label="Range"]');
    await page.eval(`document.querySelector('.panel input[aria-label="Range"]').select()`);
    await page.type('1m', 0);
    await page.press('Enter');
    await page.eval(`document.querySelector('.panel input[aria-label="Range"]').blur()`);
    await page.waitFor(`new URLSearchParams(location.search).get('g0.range_input') === '1m' && ${STATS}.includes('Resolution')`, 'the 1m range query');
    await page.waitFor(`document.querySelectorAll('.panel .legend li').length === 3`, 'three legend entries');
    await sleep(150); // the chart draws on the next animation frame
    const legend = await page.eval(LEGEND);
    const want = ['ui_load{i="1", instance=', 'ui_load{i="2", instance=', 'ui_load{i="3", instance='];
    for (const w of want) assert(legend.some((l) => l.startsWith(w)), `legend lacks ${w}…: ${js(legend)}`);
    assert(legend.every((l) => l.includes('job="ui"')), `legend entries should carry job="ui": ${js(legend)}`);
    const aria = await page.eval(`document.querySelector('.panel .chart').getAttribute('aria-label')`);
    assert(aria === 'Graph of 3 series', `chart label: ${aria}`);
    const { counts } = await colorCounts(PALETTE);
    assert(counts.slice(0, 3).every((c) => c >= 20), `not every series was drawn (pixels per colour ${js(counts)})`);
    assert(counts[3] === 0, `a fourth series colour was drawn (${js(counts)})`);
    await shot('query-graph');
    return `legend ${legend.length} entries, pixels per series colour ${counts.slice(0, 3).join('/')}`;
  });

  await check('graph: hovering shows a tooltip with the value', async () => {
    const box = await page.center('.panel .chart-overlay');
    // Hover near the right end (the server has only seconds of data), at
    // the height of the middle line (value 2).
    const x = box.x + box.w / 2 - 30;
    await page.mouse('mouseMoved', x, box.y - 20);
    await page.mouse('mouseMoved', x, box.y);
    const tip = await page.waitFor(`(() => { const t = document.querySelector('.panel .chart-tooltip'); return t && !t.hidden && t.textContent; })()`, 'the tooltip');
    const m = /value: ([0-9.e+-]+)/.exec(tip);
    assert(m, `tooltip has no value: ${tip}`);
    const i = /i: (\d)/.exec(tip)?.[1];
    assert(i && Number(m[1]) === Number(i), `tooltip value ${m[1]} is not its series' value (i=${i}): ${tip}`);
    await shot('query-graph-hover');
    await page.mouse('mouseMoved', 5, 5);
    return `tooltip "${tip.replace(/\s+/g, ' ').slice(0, 90)}"`;
  });

  await check('completion: offers a metric name', async () => {
    await page.click('.panel .tab:nth-child(1)');
    await clearEditor();
    await page.type('ui_lo');
    const items = await page.waitFor(`(() => { const c = ${COMPLETIONS}; return c.includes('ui_load') && c; })()`, 'ui_load among the completions');
    await shot('completion-metric');
    await page.press('Tab');
    const v = await page.eval(`document.querySelector(${js(EDITOR)}).value`);
    assert(v === 'ui_load', `Tab should accept ui_load, editor has ${js(v)}`);
    return `offered ${js(items.slice(0, 4))}, Tab inserted ${js(v)}`;
  });

  await check('completion: offers label values, accepting one runs the query', async () => {
    await clearEditor();
    await page.type('up{job="');
    const items = await page.waitFor(`(() => { const c = ${COMPLETIONS}; return ['down', 'ember', 'ui'].every((v) => c.includes(v)) && c; })()`, 'the job values down, ember, ui');
    await shot('completion-label-value');
    for (let k = 0; k < items.indexOf('ember'); k++) await page.press('ArrowDown');
    await page.press('Enter');
    let v = await page.eval(`document.querySelector(${js(EDITOR)}).value`);
    assert(v === 'up{job="ember"', `accepting should give up{job="ember", got ${js(v)}`);
    await page.press('End');
    await page.type('}');
    await page.press('Escape');
    await page.press('Enter');
    await page.waitFor(`${STATS} && document.querySelectorAll('.panel .result-table tbody tr').length === 1`, 'one row');
    const rows = await page.eval(TABLE_ROWS);
    assert(rows[0][0].includes('job="ember"') && rows[0][1] === '1', `wrong row ${js(rows)}`);
    v = await page.eval(`document.querySelector(${js(EDITOR)}).value`);
    return `offered ${js(items)}, ran ${v}`;
  });

  await check('a bad query shows its error', async () => {
    await clearEditor();
    await page.type('sum(rate(up[5m])');
    await page.press('Escape');
    await page.press('Enter');
    const text = await page.waitFor(`document.querySelector('.panel .alerts .alert-error')?.textContent`, 'an error alert');
    assert(/parse error/.test(text) && /unclosed left parenthesis/.test(text), `unexpected error text: ${text}`);
    const rows = await page.eval(`document.querySelectorAll('.panel .result-table tbody tr').length`);
    assert(rows === 0, `the previous result should be gone, ${rows} rows remain`);
    await shot('query-error');
    // Correcting it clears the error.
    await page.press('End');
    await page.type(')');
    await page.press('Escape');
    await page.press('Enter');
    await page.waitFor(`!document.querySelector('.panel .alerts .alert-error') && ${STATS}`, 'the error to clear');
    return text.trim();
  });

  await check('Targets page lists a healthy and a down target with its error', async () => {
    await page.goto(`${base}/targets`);
    const rows = await page.waitFor(`(() => {
      const rows = [...document.querySelectorAll('table.targets tbody tr')].map((tr) => ({
        endpoint: tr.querySelector('.endpoint').textContent,
        state: tr.cells[1].textContent.trim(),
        error: tr.querySelector('.error-cell').textContent.trim(),
        pool: tr.closest('.pool').querySelector('.pool-name').textContent,
      }));
      return rows.length >= 3 && rows;
    })()`, 'three target rows');
    const ember = rows.find((r) => r.pool === 'ember');
    const down = rows.find((r) => r.pool === 'down');
    assert(ember && ember.state === 'UP' && ember.error === '', `ember target: ${js(ember)}`);
    assert(down && down.state === 'DOWN' && down.endpoint === 'http://127.0.0.1:1/metrics', `down target: ${js(down)}`);
    assert(/connection refused/i.test(down.error), `down target's error should say connection refused: ${js(down.error)}`);
    const badges = await page.eval(`[...document.querySelectorAll('.pool summary')].map((s) => s.textContent)`);
    assert(badges.some((b) => /down.*0 \/ 1 up/.test(b)), `pool summary: ${js(badges)}`);
    await shot('targets', { fullPage: true });
    // The filter narrows to the down pool.
    await page.click('input[type=search]');
    await page.type('job="down"', 0);
    await page.waitFor(`document.querySelectorAll('table.targets tbody tr').length === 1`, 'the filter to leave one row');
    return `${rows.length} targets; down: ${down.error.slice(0, 80)}`;
  });

  await check('a /graph?g0.expr=… link opens the query', async () => {
    const expr = 'up{job="down"}';
    await page.goto(`${base}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=1`);
    await page.waitFor(`${STATS} && document.querySelectorAll('.panel .result-table tbody tr').length === 1`, 'the linked query to run');
    const path = await page.eval('location.pathname');
    assert(path.endsWith('/query'), `/graph should become /query, got ${path}`);
    const v = await page.eval(`document.querySelector(${js(EDITOR)}).value`);
    assert(v === expr, `editor holds ${js(v)}`);
    const rows = await page.eval(TABLE_ROWS);
    assert(rows[0][1] === '0', `down target's up should be 0: ${js(rows)}`);
    await shot('graph-link');
    // A Prometheus 2 graph link with two panels.
    await page.goto(`${base}/graph?g0.expr=up&g0.tab=0&g0.range_input=1m&g1.expr=${encodeURIComponent('count(ui_load)')}&g1.tab=1`);
    await page.waitFor(`document.querySelectorAll('.panel').length === 2 && document.querySelectorAll('.panel')[0].querySelectorAll('.legend li').length === 3
      && document.querySelectorAll('.panel')[1].querySelector('.result-table tbody tr td.num')?.textContent === '1000'`, 'both panels of the link');
    await shot('graph-link-two-panels');
    return `${path}, editor ${js(v)}, two-panel link ok`;
  });

  await check('1,000 series over 1 hour render without freezing the page', async () => {
    // `@ end()` gives every series a value at every step of the hour even
    // though the server has only seconds of data; the sine makes lines.
    const expr = 'ui_load @ end() + 40 * scalar(sin(vector(time()) / 300))';
    const t0 = Date.now();
    await page.goto(`${base}/query?g0.expr=${encodeURIComponent(expr)}&g0.tab=graph&g0.range_input=1h`);
    await page.waitFor(`document.querySelectorAll('.panel .legend li').length === 1000 && ${STATS}`, '1000 legend entries', 30000);
    const firstLoad = Date.now() - t0;
    // Now measure a run inside the browser: from Execute to the chart drawn,
    // with a 10 ms heartbeat and the long-task observer watching the main
    // thread.
    const m = await page.eval(`(async () => {
      const long = [];
      const po = new PerformanceObserver((l) => l.getEntries().forEach((e) => long.push(e.duration)));
      po.observe({ type: 'longtask' });
      let last = performance.now();
      let maxGap = 0;
      const beat = setInterval(() => { const n = performance.now(); maxGap = Math.max(maxGap, n - last); last = n; }, 10);
      const stats = document.querySelector('.panel .stats');
      const t0 = performance.now();
      document.querySelector('.panel .btn.primary').click();
      while (!stats.textContent.startsWith('Load time') || document.querySelector('.panel.running')) await new Promise((r) => setTimeout(r, 5));
      const tData = performance.now();
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const tDrawn = performance.now();
      // A frame after: the page answers input again.
      await new Promise((r) => setTimeout(r, 50));
      clearInterval(beat);
      po.disconnect();
      const res = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/v1/query_range') && e.startTime >= t0).pop();
      return {
        networkMs: res ? Math.round(res.responseEnd - res.startTime) : null,
        responseToDrawnMs: res ? Math.round(tDrawn - res.responseEnd) : null,
        longTaskMs: long.map(Math.round),
        responseBytes: res ? res.encodedBodySize : null,
        totalMs: Math.round(tDrawn - t0),
        untilDataMs: Math.round(tData - t0),
        drawMs: Math.round(tDrawn - tData),
        apiLoadMs: Number(/Load time: (\\d+)ms/.exec(stats.textContent)?.[1]),
        longestTaskMs: Math.round(Math.max(0, ...long)),
        longTasks: long.length,
        maxHeartbeatGapMs: Math.round(maxGap),
        stats: stats.textContent,
        points: (() => { const s = /Resolution: ([^·]+)/.exec(stats.textContent); return s ? s[1].trim() : ''; })(),
      };
    })()`, 30000);
    // Hover with 1000 series: time from the pointer move to the tooltip.
    const box = await page.center('.panel .chart-overlay');
    await page.eval(`window.__hoverT0 = performance.now(); document.querySelector('.panel .chart-tooltip').hidden = true`);
    await page.mouse('mouseMoved', box.x, box.y);
    m.hoverMs = Math.round(await page.waitFor(`(() => { const t = document.querySelector('.panel .chart-tooltip'); return !t.hidden && (performance.now() - window.__hoverT0) + 0.001; })()`, 'the tooltip on 1000 series'));
    // Lines 0.35 px apart cover one another; the last one (i="999", at the
    // top) stays visible, and together they paint a band.
    const lastColor = await page.eval(`getComputedStyle(document.querySelector('.panel .legend li:last-child .swatch')).backgroundColor`);
    const drawn = await colorCounts([lastColor]);
    assert(drawn.counts[0] >= 50, `the last series (${lastColor}) was not drawn: ${js(drawn)}`);
    assert(drawn.painted > drawn.total * 0.25, `the 1000 lines should cover much of the chart: ${js(drawn)}`);
    const aria = await page.eval(`document.querySelector('.panel .chart').getAttribute('aria-label')`);
    assert(aria === 'Graph of 1000 series', `chart label: ${aria}`);
    m.firstLoadWallMs = firstLoad;
    report.render1000 = m;
    await shot('query-graph-1000-series');
    await shot('query-graph-1000-series-full', { fullPage: true });
    return `in-browser: Execute→drawn ${m.totalMs} ms (request ${m.networkMs} ms for ${(m.responseBytes / 1e6).toFixed(1)} MB, response→drawn ${m.responseToDrawnMs} ms: parse, align, draw, legend), longest task ${m.longestTaskMs} ms, max heartbeat gap ${m.maxHeartbeatGapMs} ms, hover→tooltip ${m.hoverMs} ms; first page load ${firstLoad} ms; ${m.stats}`;
  }, 45000);

  // Every page: rendered, with its content, screenshotted.
  const PAGES = [
    ['service-discovery', 'Service discovery', `document.querySelectorAll('table.sd tbody tr').length >= 3 && document.body.textContent.includes('__address__')`],
    ['config', 'Configuration', `document.querySelector('pre.code')?.textContent.includes('job_name: down')`],
    ['flags', 'Command-line flags', `[...document.querySelectorAll('td')].some((td) => td.textContent === '--storage.tsdb.path')`],
    ['status', 'Runtime & build information', `document.querySelectorAll('.card').length >= 2`],
    ['tsdb-status', 'TSDB status', `[...document.querySelectorAll('table.stat td')].some((td) => td.textContent === 'ui_load')`],
    ['alerts', 'Alerts', `document.querySelector('main p')`],
    ['rules', 'Rules', `document.querySelector('main p')`],
  ];
  for (const [path, title, ready] of PAGES) {
    await check(`page /${path} renders`, async () => {
      await page.goto(`${base}/${path}`);
      await page.waitFor(`document.querySelector('main h1')?.textContent === ${js(title)} && (${ready})`, `the ${title} page's content`);
      await page.waitFor(`!document.querySelector('main .loading')`, 'loading to finish');
      await shot(`page-${path}`, { fullPage: path !== 'flags' });
      const docTitle = await page.eval('document.title');
      return `title ${js(docTitle)}`;
    });
  }

  await check('phone width, dark theme: query and targets', async () => {
    await page.viewport(390, 844, { dark: true, mobile: true });
    await page.goto(`${base}/query?g0.expr=${encodeURIComponent('ui_load{i=~"1|2|3"}')}&g0.tab=graph&g0.range_input=1m`);
    await page.waitFor(`document.querySelectorAll('.panel .legend li').length === 3`, 'the graph');
    await sleep(150);
    const overflow = await page.eval('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    await shot('phone-dark-query');
    await page.goto(`${base}/targets`);
    await page.waitFor(`document.querySelectorAll('table.targets tbody tr').length >= 3`, 'targets');
    const overflowT = await page.eval('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    await shot('phone-dark-targets', { fullPage: true });
    assert(overflow <= 0 && overflowT <= 0, `page wider than the phone: query +${overflow}px, targets +${overflowT}px`);
    await page.viewport(1280, 900);
    return 'no horizontal overflow';
  });

  await check('no uncaught exceptions or console errors', async () => {
    // The bad query's 400 response is expected; anything else is a bug.
    const bad = page.problems.filter((p) => !(p.kind === 'log.network' && /\/api\/v1\/query\?/.test(p.url) && /status of 400/.test(p.text)));
    assert(bad.length === 0, bad.map((p) => `${p.kind}: ${p.text} ${p.url}`).join('\n'));
    return `${page.problems.length - bad.length} expected network error(s)`;
  });

}

try {
  await main();
} catch (e) {
  results.push({ name: 'driver', ok: false });
  console.log(`FAIL driver: ${e.stack ?? e}`);
}
await browser?.shutdown();
writeFileSync(join(artifacts, 'report.json'), `${js({ results, ...report }, null, 2)}\n`);
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
