// The dashboard shell: first-time setup or login, then the pages the user's role may see
// (the API refuses the rest too), routed by the URL hash, with one status region.
import './style.css';
import { get, login, logout, me, refresh, setup, type Role } from './api';
import { can, currentWorkspace, setWorkspace } from './ctx';
import { form, field, h, notify } from './ui';
import { review } from './pages/review';
import { knowledge } from './pages/knowledge';
import { playground } from './pages/playground';
import { harness } from './pages/harness';
import { guardrails } from './pages/guardrails';
import { endpoints } from './pages/endpoints';
import { usage } from './pages/usage';
import { gateway } from './pages/gateway';
import { keys } from './pages/keys';

export type Cleanup = (() => void) | void;
export interface Page { path: string; title: string; role: Role; render: (main: HTMLElement) => Promise<Cleanup> }

const pages: Page[] = [
  { path: 'review', title: 'Review queue', role: 'reviewer', render: review },
  { path: 'knowledge', title: 'Knowledge base', role: 'member', render: knowledge },
  { path: 'playground', title: 'Context packs', role: 'member', render: playground },
  { path: 'harness', title: 'Harness', role: 'member', render: harness },
  { path: 'guardrails', title: 'Guardrails', role: 'reviewer', render: guardrails },
  { path: 'endpoints', title: 'Local endpoints', role: 'member', render: endpoints },
  { path: 'usage', title: 'Usage', role: 'member', render: usage },
  { path: 'gateway', title: 'Gateway', role: 'admin', render: gateway },
  { path: 'keys', title: 'Keys and workspaces', role: 'member', render: keys },
];

const app = document.getElementById('app') as HTMLElement;
let cleanup: Cleanup;

function visible(): Page[] { return pages.filter((p) => can(p.role)); }

async function shell() {
  const nav = h('nav', { 'aria-label': 'Pages' }, h('ul', {}, ...visible().map((p) =>
    h('li', {}, h('a', { href: `#/${p.path}`, 'data-page': p.path }, p.title)))));
  const picker = h('select', { id: 'workspace', 'aria-label': 'Workspace' }, h('option', { value: '' }, 'Default workspace'));
  try {
    const list = await get('/v1/workspaces');
    for (const w of list.data ?? []) picker.append(h('option', { value: w.workspace_id }, w.name));
    picker.value = currentWorkspace();
    if (picker.value !== currentWorkspace()) setWorkspace('');
  } catch { /* the default workspace still works */ }
  picker.addEventListener('change', () => { setWorkspace(picker.value); route(); });
  const header = h('header', {},
    h('span', { class: 'brand' }, 'Cairn'),
    picker,
    h('span', { class: 'who' }, `${me?.email} (${me?.role})`),
    h('button', { type: 'button', onclick: async () => {
      if (typeof cleanup === 'function') cleanup();
      cleanup = undefined;
      window.onhashchange = null;
      await logout();
      start();
    } }, 'Sign out'));
  const main = h('main', { id: 'main', tabindex: '-1' });
  app.replaceChildren(header, h('div', { class: 'layout' }, nav, h('div', { class: 'content' },
    h('p', { id: 'notice', class: 'notice', role: 'status', 'aria-live': 'polite' }), main)));
  window.onhashchange = route;
  await route();
}

async function route() {
  const main = document.getElementById('main');
  if (!main) return;
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  const wanted = location.hash.replace(/^#\/?/, '').split('?')[0];
  const list = visible();
  const page = list.find((p) => p.path === wanted) ?? list[0];
  if (!page) return;
  if (wanted && !list.some((p) => p.path === wanted) && pages.some((p) => p.path === wanted)) {
    notify('Your role cannot open that page.', true);
  } else {
    notify('');
  }
  for (const a of Array.from(document.querySelectorAll('nav a'))) {
    if ((a as HTMLElement).dataset.page === page.path) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.title = `${page.title} · Cairn`;
  main.replaceChildren(h('h1', {}, page.title));
  try { cleanup = await page.render(main); } catch (err) { notify((err as Error).message, true); }
}

async function signIn(pending: boolean) {
  const box = h('main', { id: 'main', class: 'signin' }, h('h1', {}, pending ? 'Set up Cairn' : 'Sign in to Cairn'));
  if (pending) {
    box.append(h('p', {}, 'This server has no admin yet. Enter the one-time setup token it printed at start, and the first admin\'s email and password.'),
      form('First admin', [field('Setup token', 'token', { required: true, autocomplete: 'off' }), field('Email', 'email', { type: 'email', required: true, autocomplete: 'username' }),
        field('Password (at least 8 characters)', 'password', { type: 'password', required: true, minlength: '8', autocomplete: 'new-password' })],
      'Create the admin', async (v) => { await setup(v.token, v.email, v.password); await shell(); }));
  } else {
    box.append(form('Sign in', [field('Email', 'email', { type: 'email', required: true, autocomplete: 'username' }),
      field('Password', 'password', { type: 'password', required: true, autocomplete: 'current-password' })],
    'Sign in', async (v) => { await login(v.email, v.password); await shell(); }));
  }
  app.replaceChildren(box);
}

async function start() {
  if (await refresh()) return shell();
  let pending = false;
  try { pending = (await get('/v1/setup')).pending; } catch { /* sign in */ }
  await signIn(pending);
}

start();
