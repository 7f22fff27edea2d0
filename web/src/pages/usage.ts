// Usage: requests, tokens, cost and savings over time (charts), by model, key and workspace.
import { get } from '../api';
import { scoped } from '../ctx';
import { h, section, table, usd } from '../ui';
import { bars } from './chart';

export async function usage(main: HTMLElement) {
  const stats = await get(scoped('/v1/stats?days=30'));
  const daily = stats.daily as any[];
  const [byKey, byWorkspace, rows, keyList] = await Promise.all([
    get('/v1/usage/breakdown?group_by=api_key&days=30'),
    get('/v1/usage/breakdown?group_by=workspace&days=30'),
    get(scoped('/v1/usage?limit=200')),
    get('/v1/keys').catch(() => ({ data: [] })),
  ]);
  const keyNames = new Map<string, string>((keyList.data as any[]).map((k) => [k.id, k.name]));
  const models = new Map<string, { requests: number; tokens: number; charged: number; baseline: number }>();
  for (const r of rows.data as any[]) {
    const m = models.get(r.served_model || r.model) ?? { requests: 0, tokens: 0, charged: 0, baseline: 0 };
    m.requests += 1; m.tokens += r.input_tokens + r.output_tokens; m.charged += r.charged_usd; m.baseline += r.baseline_usd;
    models.set(r.served_model || r.model, m);
  }
  const saved = (rows.data as any[]).reduce((s, r) => s + Math.max(r.baseline_usd - r.charged_usd, 0), 0);
  const savedByDay = new Map<string, number>(daily.map((d) => [d.date, 0]));
  for (const r of rows.data as any[]) {
    const day = String(r.created_at).slice(0, 10);
    if (savedByDay.has(day)) savedByDay.set(day, (savedByDay.get(day) ?? 0) + Math.max(r.baseline_usd - r.charged_usd, 0));
  }
  main.append(
    h('dl', { class: 'figures' },
      h('div', {}, h('dt', {}, 'Requests (30 days)'), h('dd', { id: 'requests-total' }, String(stats.requests))),
      h('div', {}, h('dt', {}, 'Tokens'), h('dd', {}, String(stats.total_tokens))),
      h('div', {}, h('dt', {}, 'Charged'), h('dd', {}, usd(stats.charged_usd))),
      h('div', {}, h('dt', {}, 'Saved against max (last 200 requests)'), h('dd', {}, usd(saved)))),
    section('Over time',
      daily.length ? h('div', { class: 'charts', id: 'usage-charts' },
        bars('Requests per day', daily.map((d) => ({ label: d.date, value: d.requests })), (n) => String(n)),
        bars('Tokens per day', daily.map((d) => ({ label: d.date, value: d.tokens })), (n) => String(n)),
        bars('Charged per day', daily.map((d) => ({ label: d.date, value: d.charged_usd })), usd),
        bars('Saved against max per day (last 200 requests)', [...savedByDay].map(([label, value]) => ({ label, value })), usd))
        : h('p', { class: 'empty' }, 'No requests yet: usage appears here after the first gateway call.')),
    section('By model', table('Usage by model', [...models.entries()], [
      { label: 'Model', cell: ([m]) => m },
      { label: 'Requests', cell: ([, v]) => v.requests },
      { label: 'Tokens', cell: ([, v]) => v.tokens },
      { label: 'Charged', cell: ([, v]) => usd(v.charged) },
      { label: 'Saved', cell: ([, v]) => usd(Math.max(v.baseline - v.charged, 0)) },
    ], 'No requests yet.')),
    section('By key', breakdown(byKey.data, 'Key', (r) => r.api_key_id ? keyNames.get(r.api_key_id) ?? r.api_key_id : 'dashboard sessions')),
    section('By workspace', breakdown(byWorkspace.data, 'Workspace', (r) => r.workspace_id || '—')));
}

function breakdown(data: any[], what: string, name: (r: any) => string): HTMLElement {
  return table(`Usage by ${what.toLowerCase()}`, data, [
    { label: what, cell: name },
    { label: 'Requests', cell: (r) => r.requests ?? 0 },
    { label: 'Tokens', cell: (r) => r.total_tokens ?? r.tokens ?? 0 },
    { label: 'Charged', cell: (r) => usd(r.charged_usd ?? 0) },
  ], 'No usage in this window.');
}
