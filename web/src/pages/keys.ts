// Keys and workspaces: runtime keys (the secret shown once), revoke, budgets; workspaces with
// their budgets; the account's own provider keys (BYOK).
import { del, get, patch, post } from '../api';
import { can } from '../ctx';
import { button, field, form, h, notify, section, table, usd, when, words } from '../ui';

export async function keys(main: HTMLElement) {
  const keyList = h('div', { id: 'keys' });
  const secret = h('div', { id: 'new-secret', role: 'status' });
  const wsList = h('div', { id: 'workspaces' });
  const pkList = h('div', { id: 'provider-keys' });
  async function load() {
    const [k, w, pk] = await Promise.all([get('/v1/keys'), get('/v1/workspaces'), get('/v1/provider-keys')]);
    keyList.replaceChildren(table('API keys', k.data, [
      { label: 'Name', cell: (x: any) => x.name },
      { label: 'Prefix', cell: (x: any) => h('code', {}, x.prefix ?? x.key_prefix ?? '') },
      { label: 'Workspace', cell: (x: any) => x.workspace_name ?? 'any' },
      { label: 'Scopes', cell: (x: any) => (x.scopes ?? []).join(', ') },
      { label: 'Budget / month', cell: (x: any) => h('span', {}, usd(x.monthly_budget_usd), ' ', can('admin') ? button('Set', async () => {
        // Budgets of existing keys are the operator's (PATCH /admin/v1/apikeys/{id}).
        const v = prompt('Monthly budget in USD', x.monthly_budget_usd ?? '');
        if (v === null || v === '') return;
        await patch(`/admin/v1/apikeys/${x.id}`, { monthly_budget_usd: Number(v) });
        notify('Key budget saved.'); await load();
      }, { class: 'secondary', 'aria-label': `Set the budget of ${x.name}` }) : '') },
      { label: 'Last used', cell: (x: any) => when(x.last_used_at) },
      { label: 'Revoke', cell: (x: any) => button('Revoke', async () => { if (confirm(`Revoke ${x.name}?`)) { await del(`/v1/keys/${x.id}`); notify('Key revoked.'); await load(); } }, { class: 'danger' }) },
    ], 'No keys yet.'));
    wsList.replaceChildren(table('Workspaces', w.data, [
      { label: 'Name', cell: (x: any) => x.name },
      { label: 'Id', cell: (x: any) => h('code', {}, x.workspace_id) },
      { label: 'Status', cell: (x: any) => x.status },
      { label: 'Budget / month', cell: (x: any) => h('span', {}, usd(x.monthly_budget_usd), ' ', button('Set', async () => {
        const v = prompt('Monthly budget in USD (empty: none)', x.monthly_budget_usd ?? '');
        if (v === null) return;
        await patch(`/v1/workspaces/${x.workspace_id}`, { monthly_budget_usd: v === '' ? null : Number(v) });
        notify('Budget saved.'); await load();
      }, { class: 'secondary', 'aria-label': `Set the budget of ${x.name}` })) },
    ], 'No workspaces.'));
    pkList.replaceChildren(table('Provider keys', pk.data, [
      { label: 'Provider', cell: (x: any) => x.provider },
      { label: 'Label', cell: (x: any) => x.label },
      { label: 'Prefix', cell: (x: any) => h('code', {}, x.prefix) },
      { label: 'Status', cell: (x: any) => x.status },
      { label: 'Last success', cell: (x: any) => when(x.last_success_at) },
      { label: 'Delete', cell: (x: any) => button('Delete', async () => { await del(`/v1/provider-keys/${x.id}`); await load(); }, { class: 'danger' }) },
    ], 'No provider keys: requests use the operator\'s.'));
  }
  main.append(
    section('API keys', keyList, form('Create a key', [field('Name', 'name', { required: true }), field('Workspace id (empty: any)', 'workspace_id'),
      field('Scopes (comma separated; empty: the runtime scopes)', 'scopes'), field('Monthly budget (USD)', 'monthly_budget_usd', { type: 'number', step: 'any', min: '0' })],
    'Create key', async (v, f) => {
      const k = await post('/v1/keys', { name: v.name, workspace_id: v.workspace_id || undefined, scopes: v.scopes ? words(v.scopes) : undefined,
        monthly_budget_usd: v.monthly_budget_usd ? Number(v.monthly_budget_usd) : undefined });
      f.reset();
      secret.replaceChildren(h('p', {}, 'Copy the key now: it is not shown again. ', h('code', { id: 'secret-value' }, k.key)));
      await load();
    }), secret),
    section('Workspaces', wsList, form('Create a workspace', [field('Id (letters, digits, -)', 'workspace_id', { required: true }), field('Name', 'name', { required: true })],
      'Create workspace', async (v, f) => { await post('/v1/workspaces', { workspace_id: v.workspace_id, name: v.name }); f.reset(); notify('Workspace created.'); await load(); })),
    section('Provider keys (bring your own)', pkList, form('Add a provider key', [field('Provider (openai, anthropic, or a configured provider)', 'provider', { required: true }),
      field('Label', 'label'), field('Workspace id (empty: every workspace)', 'workspace_id'),
      field('Key (stored encrypted, never shown again)', 'secret', { type: 'password', required: true, autocomplete: 'off' })],
    'Add key', async (v, f) => {
      await post('/v1/provider-keys', { provider: v.provider, label: v.label || undefined, secret: v.secret, workspace_id: v.workspace_id || undefined });
      f.reset(); notify('Provider key added.'); await load();
    })));
  await load();
}
