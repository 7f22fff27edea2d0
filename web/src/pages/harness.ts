// Harness: missions with their steps, artifacts, approvals and traces; a trace's feedback;
// reflections; harness versions (diff two, activate one).
import { get, post } from '../api';
import { scoped, scopedBody } from '../ctx';
import { badge, button, field, form, h, json, notify, section, table, usd, when } from '../ui';

export async function harness(main: HTMLElement) {
  const missions = h('div', { id: 'missions' });
  const detail = h('div', { id: 'mission-detail' });
  const traces = h('div', { id: 'traces' });
  const reflections = h('div', { id: 'reflections' });
  const versions = h('div', { id: 'versions' });
  const diff = h('div', { id: 'version-diff' });

  async function loadMissions() {
    const list = (await get(scoped('/v1/harness/missions?limit=50'))).data as any[];
    missions.replaceChildren(table('Missions', list, [
      { label: 'Mission', cell: (m) => m.title ?? m.mission_id ?? m.id },
      { label: 'Status', cell: (m) => badge(m.status) },
      { label: 'Progress', cell: (m) => `${Math.round((m.progress ?? 0) * 100)}%` },
      { label: 'Risk', cell: (m) => m.risk_level ?? '—' },
      { label: 'Open', cell: (m) => button('Details', () => showMission(m.id), { class: 'secondary' }) },
    ], 'No missions yet: agents create them with POST /v1/harness/missions.'));
  }
  async function showMission(id: string) {
    const d = await get(scoped(`/v1/harness/missions/${id}`));
    detail.replaceChildren(h('h3', {}, d.mission.title ?? d.mission.mission_id ?? id),
      h('p', { class: 'meta' }, `${d.usage.traces} traces · ${usd(d.usage.charged_usd)} spent`),
      table('Steps', d.steps, [{ label: 'Step', cell: (s: any) => s.title ?? s.step_ref }, { label: 'Status', cell: (s: any) => badge(s.status) }], 'No steps.'),
      table('Artifacts', d.artifacts, [{ label: 'Artifact', cell: (a: any) => a.title ?? a.kind ?? a.id }, { label: 'URL', cell: (a: any) => a.url ?? '—' }], 'No artifacts.'),
      table('Approvals', d.approvals, [{ label: 'Tool', cell: (a: any) => a.tool_ref }, { label: 'Status', cell: (a: any) => badge(a.status) }], 'No approvals.'),
      table('Traces', d.traces, [{ label: 'Type', cell: (t: any) => t.trace_type }, { label: 'Reply', cell: (t: any) => t.output_summary ?? '—' }, { label: 'Cost', cell: (t: any) => usd(t.charged_usd) }], 'No traces.'));
  }
  async function loadTraces() {
    const list = (await get(scoped('/v1/harness/traces?limit=25'))).data as any[];
    traces.replaceChildren(table('Traces', list, [
      { label: 'When', cell: (t) => when(t.created_at) },
      { label: 'Type', cell: (t) => t.trace_type },
      { label: 'Input', cell: (t) => h('span', { class: 'clip' }, t.input_summary ?? '—') },
      { label: 'Reply', cell: (t) => h('span', { class: 'clip' }, t.output_summary ?? '—') },
      { label: 'Feedback', cell: (t) => t.feedback_score ?? '—' },
      { label: 'Rate', cell: (t) => h('div', { class: 'actions' },
        button('Helpful', async () => { await post('/v1/harness/feedback', scopedBody({ trace_id: t.id, rating: 5 })); notify('Thanks: rated helpful.'); await loadTraces(); }, { class: 'secondary' }),
        button('Unhelpful', async () => { await post('/v1/harness/feedback', scopedBody({ trace_id: t.id, rating: -5 })); notify('Rated unhelpful.'); await loadTraces(); }, { class: 'secondary' })) },
    ], 'No traces yet: context packs and grounded replies leave them.'));
  }
  async function loadReflections() {
    const list = (await get(scoped('/v1/harness/reflections?limit=20'))).data as any[];
    reflections.replaceChildren(
      button('Generate a reflection', async () => { await post('/v1/harness/reflections/generate', scopedBody({})); notify('Reflection generated.'); await loadReflections(); }, { class: 'secondary' }),
      table('Reflections', list, [{ label: 'When', cell: (r) => when(r.created_at) }, { label: 'Lesson', cell: (r) => h('span', { class: 'clip' }, r.summary ?? r.content ?? JSON.stringify(r.lessons ?? '')) }], 'No reflections yet.'));
  }
  async function loadVersions() {
    const list = (await get(scoped('/v1/harness/versions'))).data as any[];
    const pick = (name: string) => field(name === 'a' ? 'Version A' : 'Version B', name, { type: 'select', options: list.map((v) => [v.id, `${v.name} (${v.status})`] as [string, string]) });
    versions.replaceChildren(table('Harness versions', list, [
      { label: 'Name', cell: (v) => v.name },
      { label: 'Status', cell: (v) => badge(v.status) },
      { label: 'Created', cell: (v) => when(v.created_at) },
      { label: 'Activate', cell: (v) => v.status === 'active' ? '—' : button('Activate', async () => {
        await post(scoped(`/v1/harness/versions/${v.id}/activate`));
        notify(`${v.name} is active.`); await loadVersions();
      }, { class: 'secondary' }) },
    ], 'No versions yet.'),
    list.length > 1 ? form('Compare two versions', [pick('a'), pick('b')], 'Compare', async (f) => {
      const a = list.find((v) => v.id === f.a), b = list.find((v) => v.id === f.b);
      diff.replaceChildren(h('div', { class: 'diff' }, h('div', {}, h('h3', {}, a.name), json(a.config)), h('div', {}, h('h3', {}, b.name), json(b.config))),
        h('p', {}, changed(a.config, b.config)));
    }) : '', diff);
  }
  main.append(section('Missions', missions, detail), section('Traces and feedback', traces), section('Reflections', reflections),
    section('Versions', versions, form('New version', [field('Name', 'name', { required: true }), field('Config (JSON)', 'config', { type: 'textarea', rows: '4', value: '{"context": {"weights": {"relevance": 1}}}' })],
      'Create', async (v) => { await post('/v1/harness/versions', scopedBody({ name: v.name, config: JSON.parse(v.config) })); notify('Version created.'); await loadVersions(); })));
  await Promise.all([loadMissions(), loadTraces(), loadReflections(), loadVersions()]);
}

/// Which top-level keys differ between two configs, in words.
function changed(a: any, b: any): string {
  const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})]);
  const diffs = [...keys].filter((k) => JSON.stringify(a?.[k]) !== JSON.stringify(b?.[k]));
  return diffs.length ? `Differs in: ${diffs.join(', ')}` : 'The two configs are the same.';
}
