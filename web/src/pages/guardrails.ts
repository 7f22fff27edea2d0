// Guardrails: policies by precedence (create, edit, enable), a tester that asks what a check
// would decide without recording anything, and the audit trail with filters.
import { get, post, put } from '../api';
import { scoped, scopedBody } from '../ctx';
import { badge, button, field, form, h, notify, section, table, usd, when } from '../ui';

const effects: [string, string][] = [['allow', 'allow'], ['require_approval', 'require approval'], ['deny', 'deny']];
const risks: [string, string][] = [['', 'any'], ['low', 'low'], ['medium', 'medium'], ['high', 'high'], ['critical', 'critical']];

/// The policy body of the form's values (or of a listed policy).
function body(v: Record<string, any>) {
  const num = (x: unknown) => (x === '' || x === null || x === undefined ? undefined : Number(x));
  return scopedBody({
    name: v.name, app: v.app || undefined, mission_id: v.mission_id || undefined, tool_ref: v.tool_ref || undefined,
    action_type: v.action_type || undefined, operation: v.operation || undefined, access_level: v.access_level || undefined,
    risk_level: v.risk_level || undefined, min_amount_usd: num(v.min_amount_usd), max_amount_usd: num(v.max_amount_usd),
    effect: v.effect, priority: num(v.priority) ?? 0, enabled: String(v.enabled) !== 'false', description: v.description || undefined,
  });
}

export async function guardrails(main: HTMLElement) {
  const policies = h('div', { id: 'policies' });
  const verdict = h('div', { id: 'verdict', role: 'status' });
  const audit = h('div', { id: 'audit-trail' });
  const editor = h('div', { id: 'policy-editor' });
  let list: any[] = [];

  /// The policy form: empty to create, filled to edit `p` (saved with PUT, same id).
  function showEditor(p?: any) {
    const f = form(p ? `Edit policy ${p.name}` : 'Create a policy', [
      field('Name', 'name', { required: true, value: p?.name ?? '' }), field('App', 'app', { value: p?.app ?? '' }),
      field('Mission', 'mission_id', { value: p?.mission_id ?? '' }),
      field('Tool', 'tool_ref', { value: p?.tool_ref ?? '' }), field('Action type', 'action_type', { value: p?.action_type ?? '' }),
      field('Operation', 'operation', { value: p?.operation ?? '' }),
      field('Access level', 'access_level', { value: p?.access_level ?? '' }),
      field('Risk level', 'risk_level', { type: 'select', options: risks, value: p?.risk_level ?? '' }),
      field('Minimum amount (USD)', 'min_amount_usd', { type: 'number', step: 'any', min: '0', value: p?.min_amount_usd ?? '' }),
      field('Maximum amount (USD)', 'max_amount_usd', { type: 'number', step: 'any', min: '0', value: p?.max_amount_usd ?? '' }),
      field('Effect', 'effect', { type: 'select', options: effects, value: p?.effect ?? 'require_approval' }),
      field('Priority (higher wins)', 'priority', { type: 'number', value: p?.priority ?? 0 }),
      field('Enabled', 'enabled', { type: 'checkbox', checked: p ? p.enabled : true }),
      field('Description', 'description', { value: p?.description ?? '' }),
    ], p ? 'Save changes' : 'Create policy', async (v) => {
      if (p) await put(`/v1/actions/policies/${p.id}`, body(v)); else await post('/v1/actions/policies', body(v));
      notify(`Policy ${v.name} saved.`);
      showEditor();
      await loadPolicies();
    });
    if (p) f.append(button('Cancel', () => showEditor(), { class: 'secondary' }));
    editor.replaceChildren(f);
    if (p) (f.querySelector('input') as HTMLInputElement | null)?.focus();
  }

  async function loadPolicies() {
    list = ((await get(scoped('/v1/actions/policies'))).data as any[]).sort((a, b) => b.priority - a.priority);
    policies.replaceChildren(table('Policies, highest priority first', list, [
      { label: 'Name', cell: (p) => p.name },
      { label: 'Matches', cell: (p) => [p.app, p.mission_id, p.tool_ref, p.action_type, p.operation, p.access_level, p.risk_level].filter(Boolean).join(' · ') || 'everything' },
      { label: 'Amount', cell: (p) => p.min_amount_usd || p.max_amount_usd ? `${usd(p.min_amount_usd)}–${usd(p.max_amount_usd)}` : '—' },
      { label: 'Effect', cell: (p) => badge(p.effect) },
      { label: 'Priority', cell: (p) => p.priority },
      { label: 'Enabled', cell: (p) => badge(p.enabled ? 'enabled' : 'disabled') },
      { label: 'Actions', cell: (p) => h('div', { class: 'actions' },
        button('Edit', () => showEditor(p), { class: 'secondary', 'aria-label': `Edit ${p.name}` }),
        button(p.enabled ? 'Disable' : 'Enable', async () => {
          await put(`/v1/actions/policies/${p.id}`, body({ ...p, enabled: !p.enabled }));
          notify(`Policy ${p.name} ${p.enabled ? 'disabled' : 'enabled'}.`);
          await loadPolicies();
          // Keep the keyboard where it was: on the same policy's (now opposite) switch.
          const again = `${p.enabled ? 'Enable' : 'Disable'} ${p.name}`;
          policies.querySelector<HTMLButtonElement>(`button[aria-label="${CSS.escape(again)}"]`)?.focus();
        }, { class: 'secondary', 'aria-label': `${p.enabled ? 'Disable' : 'Enable'} ${p.name}` })) },
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

  showEditor();
  main.append(
    section('Policies', policies, editor),
    section('What would this check decide?', form('Test a check', [
      field('App', 'app', { required: true, value: 'agent' }), field('Tool', 'tool_ref', { required: true }), field('Action type', 'action_type', { required: true }),
      field('Risk level', 'risk_level', { type: 'select', options: risks }), field('Amount (USD)', 'requested_amount_usd', { type: 'number', step: 'any', min: '0' }),
    ], 'Test', async (v) => {
      const r = await post('/v1/actions/check', scopedBody({ app: v.app, tool_ref: v.tool_ref, action_type: v.action_type, risk_level: v.risk_level || undefined,
        requested_amount_usd: v.requested_amount_usd ? Number(v.requested_amount_usd) : undefined, dry_run: true }));
      const policy = list.find((p) => p.id === r.policy_id);
      verdict.replaceChildren(h('p', {}, 'Decision: ', badge(r.decision), policy ? ` by policy ${policy.name}` : ' (default effect)'),
        r.reasons.length ? h('ul', {}, ...r.reasons.map((x: string) => h('li', {}, x))) : '');
    }), verdict),
    section('Audit trail', form('Filter', [field('Mission', 'mission_id'), field('Tool', 'tool_ref'),
      field('Event', 'event', { type: 'select', options: [['', 'any'], ['checked', 'checked'], ['blocked', 'blocked'], ['approved', 'approved'], ['rejected', 'rejected'], ['executed', 'executed'], ['failed', 'failed']] })],
    'Filter', (v) => loadAudit(v)), audit));
  await Promise.all([loadPolicies(), loadAudit()]);
}
