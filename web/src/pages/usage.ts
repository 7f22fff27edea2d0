// Usage: requests, tokens, cost and savings against `max` over time (charts), by model, key
// and workspace; every figure is summed by the server over the whole window.
import { get } from '../api';
import { scoped } from '../ctx';
import { h, section, table, usd } from '../ui';
import { bars } from './chart';

const saved = (g: any) => Math.max((g.baseline_usd ?? 0) - (g.charged_usd ?? 0), 0);

export async function usage(main: HTMLElement) {
  const stats = await get(scoped('/v1/stats?days=30'));
  const daily = stats.daily as any[];
  const dailyWindow = `days=${stats.daily_window_days || 14}`;
  const [byKey, byWorkspace, byModel, byDay, keyList] = await Promise.all([
    get(scoped('/v1/usage/breakdown?group_by=api_key&days=30')),
    get(scoped('/v1/usage/breakdown?group_by=workspace&days=30')),
    get(scoped('/v1/usage/breakdown?group_by=model&days=30')),
    get(scoped(`/v1/usage/breakdown?group_by=day&${dailyWindow}`)),
    get('/v1/keys').catch(() => ({ data: [] })),
  ]);
  const keyNames = new Map<string, string>((keyList.data as any[]).map((k) => [k.id, k.name]));
  const savedByDay = new Map<string, number>((byDay.data as any[]).map((g) => [g.date, saved(g)]));
  const totalSaved = (byModel.data as any[]).reduce((s, g) => s + saved(g), 0);
  main.append(
    h('dl', { class: 'figures' },
      h('div', {}, h('dt', {}, 'Requests (30 days)'), h('dd', { id: 'requests-total' }, String(stats.requests))),
      h('div', {}, h('dt', {}, 'Tokens'), h('dd', {}, String(stats.total_tokens))),
      h('div', {}, h('dt', {}, 'Charged'), h('dd', {}, usd(stats.charged_usd))),
      h('div', {}, h('dt', {}, 'Saved against max'), h('dd', {}, usd(totalSaved)))),
    section('Over time',
      daily.length ? h('div', { class: 'charts', id: 'usage-charts' },
        bars('Requests per day', daily.map((d) => ({ label: d.date, value: d.requests })), (n) => String(n)),
        bars('Tokens per day', daily.map((d) => ({ label: d.date, value: d.tokens })), (n) => String(n)),
        bars('Charged per day', daily.map((d) => ({ label: d.date, value: d.charged_usd })), usd),
        bars('Saved against max per day', daily.map((d) => ({ label: d.date, value: savedByDay.get(d.date) ?? 0 })), usd))
        : h('p', { class: 'empty' }, 'No requests yet: usage appears here after the first gateway call.')),
    section('By model', breakdown(byModel.data, 'Model', (g) => g.model || '—')),
    section('By key', breakdown(byKey.data, 'Key', (g) => g.api_key_id && g.api_key_id !== 'session' ? keyNames.get(g.api_key_id) ?? g.api_key_id : 'dashboard sessions')),
    section('By workspace', breakdown(byWorkspace.data, 'Workspace', (g) => g.workspace_id || '—')));
}

function breakdown(data: any[], what: string, name: (g: any) => string): HTMLElement {
  return table(`Usage by ${what.toLowerCase()}`, data, [
    { label: what, cell: name },
    { label: 'Requests', cell: (g) => g.requests ?? 0 },
    { label: 'Tokens', cell: (g) => g.tokens ?? 0 },
    { label: 'Charged', cell: (g) => usd(g.charged_usd ?? 0) },
    { label: 'Saved', cell: (g) => usd(saved(g)) },
  ], 'No usage in this window.');
}
