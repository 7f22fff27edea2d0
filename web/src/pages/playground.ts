// Context-pack playground: a query and a token budget in, the pack out with each item's
// scores and citation; from there, the pack's trace.
import { get, post } from '../api';
import { scoped, scopedBody } from '../ctx';
import { badge, field, form, h, json, section, table } from '../ui';

export async function playground(main: HTMLElement) {
  const out = h('div', { id: 'pack' });
  main.append(form('Build a context pack', [
    field('Query', 'query', { type: 'textarea', rows: '2', required: true }),
    field('Token budget', 'max_tokens', { type: 'number', min: '50', max: '32000', value: '2000' }),
    field('Include source chunks', 'include_sources', { type: 'checkbox' }),
  ], 'Build', async (v) => {
    const pack = await post('/v1/memory/context-pack', scopedBody({ query: v.query, max_tokens: Number(v.max_tokens), include_sources: v.include_sources === 'true' }));
    const trace = h('div', {});
    out.replaceChildren(
      h('p', { class: 'meta' }, `${pack.items.length} items, ${pack.usage.tokens_used} tokens · pack ${pack.pack_id}`),
      table('Pack items', pack.items, [
        { label: '#', cell: (i: any) => i.rank },
        { label: 'Type', cell: (i: any) => badge(i.type) },
        { label: 'Text', cell: (i: any) => h('span', { class: 'clip' }, i.text) },
        { label: 'Score', cell: (i: any) => i.scores.score.toFixed(3) },
        { label: 'Relevance / recency / importance / confidence / feedback', cell: (i: any) =>
          [i.scores.relevance_score, i.scores.recency_score, i.scores.importance_score, i.scores.confidence_score, i.scores.feedback_score].map((x: number) => x.toFixed(2)).join(' / ') },
        { label: 'Citation', cell: (i: any) => i.citation.marker ?? i.citation.title ?? '' },
      ], 'Nothing in memory or the sources matched.'),
      section('Context as the model sees it', h('pre', { class: 'json', tabindex: '0' }, pack.context)),
      pack.trace_id ? h('button', { type: 'button', onclick: async () => {
        const list = await get(scoped(`/v1/harness/traces?limit=50`));
        trace.replaceChildren(json(list.data.find((t: any) => t.id === pack.trace_id) ?? 'The trace is not listed yet.'));
      } }, 'Open the trace') : '',
      trace);
  }), section('Pack', out));
}
