// End-to-end: Debian's Chromium, headless, driven by playwright-core against the real cairn
// binary (started by tests/api/dashboard.rs, which seeds the data and passes it in the
// environment). Every page is screenshotted and checked with axe-core (no serious or critical
// violations); the flows of issue 14's "done when" run in order. Exits non-zero on the first
// failed step, or at the end when an accessibility check failed.
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const env = (name) => { const v = process.env[name]; if (!v) throw new Error(`${name} is not set`); return v; };
const setupMode = process.env.CAIRN_E2E_MODE === 'setup';
const base = env('CAIRN_URL');
const password = env('CAIRN_PASSWORD');
const admin = env('CAIRN_ADMIN_EMAIL');
const member = setupMode ? '' : env('CAIRN_MEMBER_EMAIL');
const providerUrl = setupMode ? '' : env('CAIRN_PROVIDER_URL');
const noteText = setupMode ? '' : env('CAIRN_PENDING_NOTE');
const toolRef = setupMode ? '' : env('CAIRN_PENDING_TOOL');
const agentKey = setupMode ? '' : env('CAIRN_AGENT_KEY');
const out = process.env.CAIRN_E2E_OUT ?? 'e2e/out';
mkdirSync(out, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const a11y = [];
let current = null;
const log = (m) => console.log(`e2e: ${m}`);

async function check(page, name) {
  await page.waitForLoadState('networkidle');
  await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
  // Evaluated over the DevTools protocol: the page's CSP (which forbids inline scripts) stays on.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of bad) a11y.push(`${name}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  log(`${name}: screenshot, ${bad.length} serious/critical accessibility violations`);
  for (const v of bad) log(`  ${v.id}: ${v.help} (${v.nodes.slice(0, 2).map((n) => n.html.slice(0, 120)).join(' | ')})`);
}

async function open(page, path, title) {
  await page.goto(`${base}/admin/#/${path}`);
  await page.getByRole('heading', { level: 1, name: title }).waitFor();
}

async function signIn(context, email) {
  const page = await context.newPage();
  current = page;
  page.on('pageerror', (e) => console.error(`e2e: page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') console.error(`e2e: console: ${m.text()}`); });
  await page.goto(`${base}/`);
  await page.waitForURL(/\/admin\//);
  await page.getByRole('heading', { name: 'Sign in to Cairn' }).waitFor();
  return page;
}

/// A fresh install: the dashboard opens on first-time setup; the printed token makes the
/// first admin, who lands signed in with the admin's pages.
async function firstTimeSetup() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  current = page;
  await page.goto(`${base}/`);
  await page.getByRole('heading', { name: 'Set up Cairn' }).waitFor();
  await check(page, 'first-time-setup');
  const setupForm = page.getByRole('form', { name: 'First admin' });
  await setupForm.getByLabel('Setup token').fill('not-the-token');
  await setupForm.getByLabel('Email').fill(admin);
  await setupForm.getByLabel(/^Password/).fill(password);
  await setupForm.getByRole('button', { name: 'Create the admin' }).click();
  await page.locator('.form-status.error', { hasText: 'setup_token' }).waitFor();
  await setupForm.getByLabel('Setup token').fill(env('CAIRN_SETUP_TOKEN'));
  await setupForm.getByRole('button', { name: 'Create the admin' }).click();
  await page.getByRole('link', { name: 'Gateway' }).waitFor();
  log('setup: a wrong token is refused, the printed one makes the first admin');
}

try {
  if (setupMode) {
    await firstTimeSetup();
    await browser.close();
    if (a11y.length) { console.error(`e2e: accessibility violations:\n${a11y.join('\n')}`); process.exit(2); }
    log('all flows passed');
    process.exit(0);
  }
  // Log in (the root redirects to /admin/), keyboard first: Tab reaches the skip link.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await signIn(context, admin);
  await check(page, 'sign-in');
  await page.keyboard.press('Tab');
  if ((await page.evaluate(() => document.activeElement?.textContent)) !== 'Skip to content') throw new Error('the first Tab does not reach the skip link');
  await page.getByLabel('Email').fill(admin);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Pages' }).waitFor();
  log('signed in');

  // Review queue: the pending memory and the action approval, each leaves the queue once decided.
  await open(page, 'review', 'Review queue');
  const note = page.locator('article[data-note]', { hasText: noteText });
  await note.waitFor();
  const approval = page.locator('article[data-approval]', { hasText: toolRef });
  await approval.waitFor();
  await page.locator('#live-status', { hasText: 'on' }).waitFor();
  await check(page, 'review-queue');
  await note.getByRole('button', { name: 'Approve' }).click();
  await note.waitFor({ state: 'detached' });
  await approval.getByLabel('Note for the agent (optional)').fill('fine this once');
  await approval.getByRole('button', { name: 'Approve' }).click();
  await approval.waitFor({ state: 'detached' });
  await page.getByText('No memories wait for review.').waitFor();
  await page.getByText('No actions wait for approval.').waitFor();
  log('review: memory and approval approved and gone from the queue');
  // Live: a memory an agent writes now shows up without a reload (the /v1/events stream).
  const liveText = 'The on-call rotation changes every Monday at 09:00.';
  const written = await fetch(`${base}/v1/memory/notes`, { method: 'POST',
    headers: { Authorization: `Bearer ${agentKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ content: liveText, status: 'pending' }) });
  if (!written.ok) throw new Error(`writing the live note: ${written.status}`);
  const liveNote = page.locator('article[data-note]', { hasText: liveText });
  await liveNote.waitFor({ timeout: 10000 });
  await liveNote.getByRole('button', { name: 'Reject' }).click();
  await liveNote.waitFor({ state: 'detached' });
  log('review: a note written meanwhile appeared live and was rejected');

  // Knowledge base: upload a file, see it become ready, search it.
  await open(page, 'knowledge', 'Knowledge base');
  await page.locator('#file-input').setInputFiles({ name: 'lighthouse.md', mimeType: 'text/markdown',
    buffer: Buffer.from('# The lighthouse\n\nThe Skerryvore lighthouse keeper logs the fog signal every evening at nine.\n') });
  await page.locator('#sources tr', { hasText: 'lighthouse' }).locator('[data-status=ready]').waitFor({ timeout: 60000 });
  await page.getByLabel('Query').fill('fog signal keeper');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#search-results', { hasText: 'Skerryvore' }).waitFor();
  await page.getByRole('button', { name: 'Document and chunks of lighthouse.md' }).click();
  await page.locator('#chunks table', { hasText: 'fog signal' }).waitFor();
  await check(page, 'knowledge-base');
  log('knowledge: uploaded, ready, found');

  // Usage: a chart with data.
  await open(page, 'usage', 'Usage');
  await page.locator('#usage-charts figure').first().waitFor();
  const drawn = await page.locator('#usage-charts rect').evaluateAll((bars) => bars.filter((b) => Number(b.getAttribute('height')) > 0).length);
  if (!drawn) throw new Error('the usage charts have no bar with data');
  await check(page, 'usage');
  log('usage: charts drawn');

  // Gateway: unlock the password vault, add a provider.
  await open(page, 'gateway', 'Gateway');
  await page.locator('#vault-status', { hasText: 'locked' }).waitFor();
  await page.getByLabel('New vault password (at least 8 characters)').fill('vault-password-1');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await page.locator('#vault-status', { hasText: 'unlocked' }).waitFor();
  const add = page.getByRole('form', { name: 'Add a provider' });
  await add.getByLabel('Id').fill('e2e-provider');
  await add.getByLabel('Base URL').fill(providerUrl);
  await add.getByLabel(/API key/).fill('sk-e2e-provider-key');
  await add.getByRole('button', { name: 'Add provider' }).click();
  await page.locator('#providers tr', { hasText: 'e2e-provider' }).waitFor();
  await check(page, 'gateway');
  log('gateway: vault unlocked, provider added');

  for (const [path, title] of [['playground', 'Context packs'], ['harness', 'Harness'], ['guardrails', 'Guardrails'], ['endpoints', 'Local endpoints'], ['keys', 'Keys and workspaces']]) {
    await open(page, path, title);
    await check(page, path);
  }
  // Harness: a mission an agent reported, with its approval.
  await open(page, 'harness', 'Harness');
  await page.locator('#missions tr', { hasText: 'Refund ticket 981' }).getByRole('button', { name: 'Details' }).click();
  await page.locator('#mission-detail', { hasText: toolRef }).waitFor();
  log('harness: mission detail shows its approval');

  // Guardrails: edit a policy an API client wrote, disable it, and ask the tester.
  await open(page, 'guardrails', 'Guardrails');
  await page.getByRole('button', { name: 'Edit refunds need a person' }).click();
  const editor = page.getByRole('form', { name: 'Edit policy refunds need a person' });
  await editor.getByLabel('Priority (higher wins)').fill('7');
  await editor.getByRole('button', { name: 'Save changes' }).click();
  await page.locator('#policies tr', { hasText: 'refunds need a person' }).locator('td[data-label=Priority]', { hasText: '7' }).waitFor();
  const tester = page.getByRole('form', { name: 'Test a check' });
  await tester.getByLabel('Tool').fill(toolRef);
  await tester.getByLabel('Action type').fill('spend');
  await tester.getByRole('button', { name: 'Test' }).click();
  await page.locator('#verdict', { hasText: 'by policy refunds need a person' }).waitFor();
  await page.getByRole('button', { name: 'Disable refunds need a person' }).click();
  await page.getByRole('button', { name: 'Enable refunds need a person' }).waitFor();
  log('guardrails: policy edited, tested, disabled');

  // The playground builds a pack from what was approved.
  await open(page, 'playground', 'Context packs');
  await page.getByLabel('Query').fill(noteText);
  await page.getByRole('button', { name: 'Build' }).click();
  await page.locator('#pack table').waitFor();
  log('playground: pack built');

  // Phone width: the review queue still reads (no sideways scrolling).
  await page.setViewportSize({ width: 390, height: 844 });
  await open(page, 'review', 'Review queue');
  await check(page, 'review-queue-phone');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 1) throw new Error(`the review queue scrolls sideways at phone width (${overflow}px)`);

  // A member sees no review, guardrails or gateway; opening one by URL is refused.
  const memberContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const mpage = await signIn(memberContext, member);
  await mpage.getByLabel('Email').fill(member);
  await mpage.getByLabel('Password').fill(password);
  await mpage.getByRole('button', { name: 'Sign in' }).click();
  await mpage.getByRole('navigation', { name: 'Pages' }).waitFor();
  const links = await mpage.locator('nav a').allTextContents();
  for (const hidden of ['Review queue', 'Guardrails', 'Gateway']) if (links.includes(hidden)) throw new Error(`a member sees ${hidden}`);
  await mpage.goto(`${base}/admin/#/gateway`);
  await mpage.getByText('Your role cannot open that page.').waitFor();
  await check(mpage, 'member-home');
  log('member: hidden pages stay hidden');
} catch (err) {
  console.error(`e2e: FAILED: ${err.stack ?? err}`);
  if (current) {
    const notice = await current.locator('#notice').textContent().catch(() => null);
    console.error(`e2e: at ${current.url()}; the page said: ${notice ?? '(nothing)'}`);
    await current.screenshot({ path: join(out, 'failure.png'), fullPage: true }).catch(() => undefined);
  }
  await browser.close();
  process.exit(1);
}
await browser.close();
if (a11y.length) {
  console.error(`e2e: accessibility violations:\n${a11y.join('\n')}`);
  writeFileSync(join(out, 'a11y.txt'), a11y.join('\n'));
  process.exit(2);
}
log('all flows passed');
