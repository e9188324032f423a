// Entry point: the header (navigation, theme switch), the page routes and
// their placeholders. Loaded by index.html as an ES module.

import { getPref, h, link, setPref } from './dom.js';
import { href, startRouter } from './router.js';
import { renderQueryPage } from './query_page.js';
import { renderConfig, renderFlags, renderServiceDiscovery, renderStatus, renderTargets, renderTsdbStatus } from './status_pages.js';

/** Pages of the navigation bar: path, label. */
const NAV = [
  ['/query', 'Query'],
  ['/targets', 'Targets'],
  ['/service-discovery', 'Service discovery'],
  ['/tsdb-status', 'TSDB status'],
  ['/status', 'Runtime & build'],
  ['/flags', 'Flags'],
  ['/config', 'Configuration'],
];

const placeholder = (title, text) => ({
  title,
  render: (el) => el.append(h('h1', {}, title), h('p', { class: 'muted' }, text)),
});

const ROUTES = {
  '/query': { title: 'Query', render: renderQueryPage },
  '/targets': { title: 'Targets', render: renderTargets },
  '/service-discovery': { title: 'Service discovery', render: renderServiceDiscovery },
  '/config': { title: 'Configuration', render: renderConfig },
  '/flags': { title: 'Command-line flags', render: renderFlags },
  '/status': { title: 'Runtime & build information', render: renderStatus },
  '/tsdb-status': { title: 'TSDB status', render: renderTsdbStatus },
  '/alerts': placeholder('Alerts', 'Alerting rules are not available in this version of Ember yet.'),
  '/rules': placeholder('Rules', 'Recording and alerting rules are not available in this version of Ember yet.'),
  notFound: {
    title: 'Not found',
    render: (el) => el.append(h('h1', {}, 'Page not found'), h('p', {}, 'Go to the ', link(href('/query'), 'query page'), '.')),
  },
};

// ----------------------------------------------------------------- theme --

const THEMES = ['auto', 'light', 'dark'];

function applyTheme(theme) {
  if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  // Canvas charts read colours once per draw; tell them to redraw.
  window.dispatchEvent(new Event('ember-theme'));
}

function themeButton() {
  let theme = THEMES.includes(getPref('theme')) ? getPref('theme') : 'auto';
  applyTheme(theme);
  const btn = h('button', { type: 'button', class: 'btn theme-toggle' });
  const label = () => {
    btn.textContent = { auto: '◐ Auto', light: '☀ Light', dark: '☾ Dark' }[theme];
    btn.setAttribute('aria-label', `Theme: ${theme}. Click to change.`);
  };
  btn.addEventListener('click', () => {
    theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    setPref('theme', theme);
    applyTheme(theme);
    label();
  });
  label();
  return btn;
}

// ---------------------------------------------------------------- header --

function header() {
  const links = NAV.map(([path, text]) => link(href(path), text));
  const nav = h('nav', { id: 'main-nav', 'aria-label': 'Main' }, links);
  const menu = h('button', {
    type: 'button', class: 'btn menu-toggle', 'aria-controls': 'main-nav', 'aria-expanded': 'false',
    onclick: () => {
      const open = !nav.classList.contains('open');
      nav.classList.toggle('open', open);
      menu.setAttribute('aria-expanded', String(open));
    },
  }, '☰ Menu');
  nav.addEventListener('click', (e) => {
    if (e.target.closest('a')) {
      nav.classList.remove('open');
      menu.setAttribute('aria-expanded', 'false');
    }
  });
  const el = h('header', { class: 'topbar' },
    link(href('/query'), h('img', { src: href('/assets/favicon.svg'), alt: '', width: 22, height: 22 }), h('span', {}, 'Ember')),
    menu, nav, themeButton());
  el.firstChild.classList.add('brand');
  const highlight = (path) => {
    links.forEach((a, i) => {
      if (NAV[i][0] === path) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
  };
  return { el, highlight };
}

function main() {
  const top = header();
  const outlet = h('main', { id: 'main', tabindex: '-1' });
  const skip = h('a', { class: 'skip-link', href: '#main' }, 'Skip to content');
  document.body.replaceChildren(skip, top.el, outlet);
  startRouter(ROUTES, outlet, top.highlight);
}

main();
