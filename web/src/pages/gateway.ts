// Gateway (admins): the vault (first-time setup, unlock, lock), providers, models, routing
// config and simulation, health, logs and the admin audit.
import { del, get, patch, post, put, stream } from '../api';
import { badge, button, field, form, h, json, notify, section, table, usd, when, words } from '../ui';

export async function gateway(main: HTMLElement) {
  const vault = h('div', { id: 'vault' });
  const providers = h('div', { id: 'providers' });
  const models = h('div', { id: 'models' });
  const routing = h('div', { id: 'routing' });
  const simulated = h('div', { id: 'simulation' });
  const health = h('div', { id: 'health' });
  const logs = h('div', { id: 'logs' });
  const audit = h('div', { id: 'audit' });

  async function loadVault() {
    const info = await get('/admin/v1/info');
    const status = h('p', { id: 'vault-status' }, 'Vault: ', badge(info.vault_locked ? 'locked' : 'unlocked'), ` (${info.vault_mode} mode)`);
    const parts: Node[] = [status];
    if (info.vault_locked) {
      parts.push(form(info.vault_initialized ? 'Unlock the vault' : 'Set the vault password', [
        field(info.vault_initialized ? 'Admin password' : 'New vault password (at least 8 characters)', 'admin_password', { type: 'password', required: true, autocomplete: 'off' }),
      ], 'Unlock', async (v) => { await post('/admin/v1/vault/unlock', { admin_password: v.admin_password }); notify('Vault unlocked.'); await reload(); }));
    } else if (info.vault_mode === 'password') {
      parts.push(button('Lock the vault', async () => { await post('/admin/v1/vault/lock'); notify('Vault locked.'); await reload(); }, { class: 'secondary' }));
    }
    vault.replaceChildren(...parts);
  }

  async function loadProviders() {
    const list = (await get('/admin/v1/providers?limit=100')).items as any[];
    providers.replaceChildren(table('Providers', list, [
      { label: 'Id', cell: (p) => p.id },
      { label: 'Kind', cell: (p) => p.type ?? p.kind },
      { label: 'Base URL', cell: (p) => p.base_url },
      { label: 'Key', cell: (p) => `${p.cred_store}${p.api_key_set ? ' (set)' : ''}` },
      { label: 'Enabled', cell: (p) => badge(p.enabled ? 'enabled' : 'disabled') },
      { label: 'Actions', cell: (p) => h('div', { class: 'actions' },
        button('Discover models', async () => { const d = await get(`/admin/v1/providers/${encodeURIComponent(p.id)}/discover`); providers.append(h('h3', {}, `Models at ${p.id}`), json(d)); }, { class: 'secondary' }),
        button(p.enabled ? 'Disable' : 'Enable', async () => { await patch(`/admin/v1/providers/${encodeURIComponent(p.id)}`, { enabled: !p.enabled }); await reload(); }, { class: 'secondary' }),
        button('Delete', async () => { if (confirm(`Delete ${p.id} and its models?`)) { await del(`/admin/v1/providers/${encodeURIComponent(p.id)}`); notify('Provider deleted.'); await reload(); } }, { class: 'danger' })) },
    ], 'No providers yet: add one below.'));
  }

  async function loadModels() {
    const list = (await get('/admin/v1/models?limit=200')).items as any[];
    models.replaceChildren(table('Models', list, [
      { label: 'Id', cell: (m) => m.id },
      { label: 'Provider', cell: (m) => m.provider_id },
      { label: 'Upstream', cell: (m) => m.upstream },
      { label: 'Weight', cell: (m) => m.weight },
      { label: 'Price in / out per 1k', cell: (m) => `${usd(m.input_per_1k)} / ${usd(m.output_per_1k)}` },
      { label: 'Capabilities', cell: (m) => m.capabilities.join(', ') },
      { label: 'Enabled', cell: (m) => badge(m.enabled ? 'enabled' : 'disabled') },
      { label: 'Actions', cell: (m) => h('div', { class: 'actions' },
        button(m.enabled ? 'Disable' : 'Enable', async () => { await patch(`/admin/v1/models/${m.id}`, { enabled: !m.enabled }); await reload(); }, { class: 'secondary' }),
        m.source === 'config' ? null : button('Delete', async () => { if (confirm(`Delete ${m.id}?`)) { await del(`/admin/v1/models/${m.id}`); await reload(); } }, { class: 'danger' })) },
    ], 'No models yet.'));
  }

  async function loadRouting() {
    const c = await get('/admin/v1/routing-config');
    routing.replaceChildren(form('Routing defaults', [
      field('Default mode', 'default_mode', { type: 'select', value: c.default_mode, options: [['auto', 'auto'], ['fast', 'fast'], ['max', 'max'], ['thompson', 'thompson']] }),
      field('Most one request may cost (USD, empty: no cap)', 'default_max_budget_usd', { type: 'number', step: 'any', min: '0', value: c.default_max_budget_usd ?? '' }),
      field('Slowest model latency allowed (ms, empty: no cap)', 'default_max_latency_ms', { type: 'number', min: '1', value: c.default_max_latency_ms ?? '' }),
      field('Minimum weight (0-10)', 'default_min_weight', { type: 'number', min: '0', max: '10', value: c.default_min_weight }),
    ], 'Save', async (v) => {
      await put('/admin/v1/routing-config', {
        default_mode: v.default_mode,
        default_max_budget_usd: v.default_max_budget_usd ? Number(v.default_max_budget_usd) : null,
        default_max_latency_ms: v.default_max_latency_ms ? Number(v.default_max_latency_ms) : null,
        default_min_weight: Number(v.default_min_weight || 0),
      });
      notify('Routing defaults saved.');
    }));
  }

  async function loadObservability() {
    const [hl, lg, au] = await Promise.all([get('/admin/v1/health'), get('/admin/v1/logs?limit=25'), get('/admin/v1/audit?limit=25')]);
    health.replaceChildren(table('Provider health', hl.providers ?? [], [
      { label: 'Provider', cell: (p: any) => p.provider_id },
      { label: 'Kind', cell: (p: any) => p.type ?? p.kind },
      { label: 'State', cell: (p: any) => badge(p.state) },
      { label: 'Models', cell: (p: any) => p.models },
      { label: 'Error rate', cell: (p: any) => `${(p.error_rate * 100).toFixed(0)}%` },
      { label: 'Last error', cell: (p: any) => p.last_error ?? '—' },
    ], 'No providers to watch yet.'), table('Model health', hl.models ?? [], [
      { label: 'Model', cell: (m: any) => m.model_id },
      { label: 'State', cell: (m: any) => badge(m.state) },
      { label: 'Breaker', cell: (m: any) => m.breaker },
      { label: 'Error rate', cell: (m: any) => `${(m.error_rate * 100).toFixed(0)}%` },
      { label: 'Latency (EWMA)', cell: (m: any) => m.latency_ewma_ms ? `${Math.round(m.latency_ewma_ms)} ms` : '—' },
      { label: 'Last error', cell: (m: any) => m.last_error ?? '—' },
    ], 'No models to watch yet.'));
    logs.replaceChildren(table('Recent requests', lg.items, [
      { label: 'When', cell: (r: any) => when(r.created_at) },
      { label: 'Asked', cell: (r: any) => r.model },
      { label: 'Served', cell: (r: any) => r.served_model },
      { label: 'Type', cell: (r: any) => r.request_type },
      { label: 'Tokens', cell: (r: any) => r.input_tokens + r.output_tokens },
      { label: 'Charged', cell: (r: any) => usd(r.charged_usd) },
    ], 'No requests yet.'));
    audit.replaceChildren(table('Admin audit', au.items, [
      { label: 'When', cell: (a: any) => when(a.created_at) },
      { label: 'Who', cell: (a: any) => a.actor },
      { label: 'What', cell: (a: any) => a.action },
      { label: 'Target', cell: (a: any) => a.target },
    ], 'No admin changes yet.'));
  }

  async function reload() { await Promise.all([loadVault(), loadProviders(), loadModels(), loadObservability()]); }

  const addProvider = form('Add a provider', [
    field('Id', 'id', { required: true, pattern: '[A-Za-z0-9_.:\\-]+' }),
    field('Kind', 'type', { type: 'select', options: [['openai_compatible', 'OpenAI-compatible'], ['openai', 'OpenAI'], ['anthropic', 'Anthropic']] }),
    field('Base URL', 'base_url', { type: 'url' }),
    field('API key (sealed in the vault, never shown again)', 'api_key', { type: 'password', autocomplete: 'off' }),
  ], 'Add provider', async (v, f) => {
    await post('/admin/v1/providers', { id: v.id, type: v.type, base_url: v.base_url || undefined, api_key: v.api_key || undefined });
    f.reset();
    notify(`Provider ${v.id} added.`);
    await reload();
  });
  const addModel = form('Add a model', [
    field('Id', 'id', { required: true }), field('Provider id', 'provider_id', { required: true }), field('Upstream name', 'upstream'),
    field('Weight (1-10)', 'weight', { type: 'number', min: '1', max: '10', value: '3' }),
    field('Input USD per 1k tokens', 'input_per_1k', { type: 'number', step: 'any', min: '0', value: '0' }),
    field('Output USD per 1k tokens', 'output_per_1k', { type: 'number', step: 'any', min: '0', value: '0' }),
    field('Capabilities (comma separated; embeddings makes an embeddings model)', 'capabilities'),
  ], 'Add model', async (v, f) => {
    await post('/admin/v1/models', { id: v.id, provider_id: v.provider_id, upstream: v.upstream || undefined, weight: Number(v.weight),
      input_per_1k: Number(v.input_per_1k), output_per_1k: Number(v.output_per_1k), capabilities: words(v.capabilities) });
    f.reset();
    notify(`Model ${v.id} added.`);
    await reload();
  });
  const simulate = form('Simulate a routing decision', [
    field('Mode or model', 'mode', { value: 'auto' }), field('Input tokens', 'token_count', { type: 'number', min: '0', value: '500' }),
    field('Output tokens', 'max_tokens', { type: 'number', min: '1', value: '256' }),
  ], 'Simulate', async (v) => {
    const r = await post('/admin/v1/routing/simulate', { mode: v.mode, token_count: Number(v.token_count), max_tokens: Number(v.max_tokens) });
    simulated.replaceChildren(h('p', {}, 'Decision: ', h('strong', {}, r.decision?.model_id ?? r.decision ?? 'none')), json(r));
  });

  main.append(section('Vault', vault), section('Providers', providers, addProvider), section('Models', models, addModel),
    section('Routing', routing, simulate, simulated), section('Health', health), section('Logs', logs), section('Audit', audit));
  await Promise.all([reload(), loadRouting()]);
  // Health, logs and audit follow the operator's event stream (at most every 2 s).
  const stop = new AbortController();
  let due: number | undefined;
  stream('/admin/v1/events', () => {
    if (due !== undefined) return;
    due = window.setTimeout(() => { due = undefined; loadObservability().catch((e) => notify(e.message, true)); }, 2000);
  }, stop.signal);
  return () => { stop.abort(); clearTimeout(due); };
}
