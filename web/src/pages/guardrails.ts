// Guardrails: policies by precedence (create, edit, enable), a tester that asks what a check
// would decide without recording anything, and the audit trail with filters.
import { get, post } from '../api';
import { scoped, scopedBody } from '../ctx';
import { badge, button, field, form, h, notify, section, table, usd, when } from '../ui';

export async function guardrails(main: HTMLElement) {
  const policies = h('div', { id: 'policies' });
  const verdict = h('div', { id: 'verdict', role: 'status' });
  const audit = h('div', { id: 'audit-trail' });
  let list: any[] = [];

  const body = (v: Record<string, string>) => scopedBody({
    name: v.name, app: v.app || undefined, tool_ref: v.tool_ref || undefined, action_type: v.action_type || undefined,
    risk_level: v.risk_level || undefined, min_amount_usd: v.min_amount_usd ? Number(v.min_amount_usd) : undefined,
    max_amount_usd: v.max_amount_usd ? Number(v.max_amount_usd) : undefined, effect: v.effect,
    priority: v.priority ? Number(v.priority) : 0, enabled: v.enabled !== 'false', description: v.description || undefined,
    external_source: 'dashboard', external_id: v.name,
  });

  async function loadPolicies() {
    list = ((await get(scoped('/v1/actions/policies'))).data as any[]).sort((a, b) => b.priority - a.priority);
    policies.replaceChildren(table('Policies, highest priority first', list, [
      { label: 'Name', cell: (p) => p.name },
      { label: 'Matches', cell: (p) => [p.app, p.tool_ref, p.action_type, p.risk_level].filter(Boolean).join(' · ') || 'everything' },
      { label: 'Amount', cell: (p) => p.min_amount_usd || p.max_amount_usd ? `${usd(p.min_amount_usd)}–${usd(p.max_amount_usd)}` : '—' },
      { label: 'Effect', cell: (p) => badge(p.effect) },
      { label: 'Priority', cell: (p) => p.priority },
      { label: 'Enabled', cell: (p) => p.external_source === 'dashboard'
        ? button(p.enabled ? 'Disable' : 'Enable', async () => { await post('/v1/actions/policies', body({ ...p, enabled: String(!p.enabled), priority: String(p.priority), min_amount_usd: p.min_amount_usd ?? '', max_amount_usd: p.max_amount_usd ?? '' })); await loadPolicies(); }, { class: 'secondary' })
        : badge(p.enabled ? 'enabled' : 'disabled') },
    ], 'No policies: every check gets the default effect.'));
  }
  async function loadAudit(filter: Record<string, string> = {}) {
    const q = new URLSearchParams({ limit: '50' });
    for (const [k, v] of Object.entries(filter)) if (v) q.set(k, v);
    const rows = (await get(scoped(`/v1/actions/audit?${q}`))).data as any[];
    audit.replaceChildren(table('Audit trail', rows, [
      { label: 'When', cell: (a) => when(a.created_at) },
      { label: 'Event', cell: (a) => badge(a.event) },
      { label: 'Tool', cell: (a) => a.tool_ref ?? '—' },
      { label: 'Mission', cell: (a) => a.mission_id ?? '—' },
      { label: 'Amount', cell: (a) => usd(a.amount_usd) },
      { label: 'By', cell: (a) => a.recorded_by },
    ], 'Nothing recorded with this filter.'));
  }

  const effects: [string, string][] = [['allow', 'allow'], ['require_approval', 'require approval'], ['deny', 'deny']];
  main.append(
    section('Policies', policies, form('Create or edit a policy (same name: edited)', [
      field('Name', 'name', { required: true }), field('App', 'app'), field('Tool', 'tool_ref'), field('Action type', 'action_type'),
      field('Risk level', 'risk_level', { type: 'select', options: [['', 'any'], ['low', 'low'], ['medium', 'medium'], ['high', 'high'], ['critical', 'critical']] }),
      field('Minimum amount (USD)', 'min_amount_usd', { type: 'number', step: 'any', min: '0' }), field('Maximum amount (USD)', 'max_amount_usd', { type: 'number', step: 'any', min: '0' }),
      field('Effect', 'effect', { type: 'select', options: effects }), field('Priority (higher wins)', 'priority', { type: 'number', value: '0' }),
      field('Description', 'description'),
    ], 'Save policy', async (v) => { await post('/v1/actions/policies', body(v)); notify(`Policy ${v.name} saved.`); await loadPolicies(); })),
    section('What would this check decide?', form('Test a check', [
      field('App', 'app', { required: true, value: 'agent' }), field('Tool', 'tool_ref', { required: true }), field('Action type', 'action_type', { required: true }),
      field('Risk level', 'risk_level'), field('Amount (USD)', 'requested_amount_usd', { type: 'number', step: 'any', min: '0' }),
    ], 'Test', async (v) => {
      const r = await post('/v1/actions/check', scopedBody({ app: v.app, tool_ref: v.tool_ref, action_type: v.action_type, risk_level: v.risk_level || undefined,
        requested_amount_usd: v.requested_amount_usd ? Number(v.requested_amount_usd) : undefined, dry_run: true }));
      const policy = list.find((p) => p.id === r.policy_id);
      verdict.replaceChildren(h('p', {}, 'Decision: ', badge(r.decision), policy ? ` by policy ${policy.name}` : ' (default effect)'), r.reasons.length ? h('ul', {}, ...r.reasons.map((x: string) => h('li', {}, x))) : '');
    }), verdict),
    section('Audit trail', form('Filter', [field('Mission', 'mission_id'), field('Tool', 'tool_ref'),
      field('Event', 'event', { type: 'select', options: [['', 'any'], ['checked', 'checked'], ['blocked', 'blocked'], ['approved', 'approved'], ['rejected', 'rejected'], ['executed', 'executed'], ['failed', 'failed']] })],
    'Filter', (v) => loadAudit(v)), audit));
  await Promise.all([loadPolicies(), loadAudit()]);
}
