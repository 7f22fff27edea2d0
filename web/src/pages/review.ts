// Review queue: pending memories (approve, reject, edit then approve) and pending action
// approvals (approve, reject, with a note), newest first; follows /v1/events so decisions
// made elsewhere and new requests show up without a reload.
import { get, post, patch, stream } from '../api';
import { scoped, scopedBody } from '../ctx';
import { badge, button, h, notify, section, usd, when } from '../ui';

export async function review(main: HTMLElement) {
  const notes = h('div', { id: 'pending-notes' });
  const approvals = h('div', { id: 'pending-approvals' });
  const live = h('p', { class: 'muted', id: 'live-status' }, 'Live updates: connecting…');
  main.append(live, section('Pending memories', notes), section('Pending action approvals', approvals));

  async function load() {
    const [n, a] = await Promise.all([
      get(scoped('/v1/memory/notes?status=pending&limit=100')),
      get(scoped('/v1/actions/approvals?status=pending&limit=100')),
    ]);
    notes.replaceChildren(...(n.data.length ? n.data.map(noteCard) : [h('p', { class: 'empty' }, 'No memories wait for review.')]));
    approvals.replaceChildren(...(a.data.length ? a.data.map(approvalCard) : [h('p', { class: 'empty' }, 'No actions wait for approval.')]));
  }

  function noteCard(n: any): HTMLElement {
    const text = h('textarea', { 'aria-label': 'Memory text', rows: '3', hidden: true }, n.content);
    const shown = h('p', { class: 'content' }, n.content);
    const reason = h('input', { type: 'text', 'aria-label': 'Reason (optional)', placeholder: 'Reason (optional)' });
    const decide = async (action: 'approve' | 'reject') => {
      if (!text.hidden && text.value !== n.content) {
        await patch(`/v1/memory/notes/${n.id}`, scopedBody({ content: text.value }));
      }
      await post(`/v1/memory/notes/${n.id}/${action}`, scopedBody(reason.value ? { reason: reason.value } : {}));
      notify(`Memory ${action === 'approve' ? 'approved' : 'rejected'}.`);
      await load();
    };
    return h('article', { class: 'card', 'data-note': n.id, 'aria-label': `Memory ${n.title ?? n.content.slice(0, 40)}` },
      h('p', { class: 'meta' }, badge(n.kind ?? 'note'), ` written ${when(n.created_at)}`, n.created_by ? ` by ${n.created_by}` : '',
        n.source_ref ? ` · source ${n.source_ref}` : '', n.mission_id ? ` · mission ${n.mission_id}` : '',
        typeof n.confidence === 'number' ? ` · confidence ${n.confidence.toFixed(2)}` : ''),
      n.title ? h('h3', {}, n.title) : null, shown, text, reason,
      h('div', { class: 'actions' },
        button('Approve', () => decide('approve')),
        button('Reject', () => decide('reject'), { class: 'secondary' }),
        button('Edit', () => { text.hidden = !text.hidden; shown.hidden = !text.hidden; if (!text.hidden) text.focus(); }, { class: 'secondary' })));
  }

  function approvalCard(a: any): HTMLElement {
    const note = h('input', { type: 'text', 'aria-label': 'Note for the agent (optional)', placeholder: 'Note (optional)' });
    const decide = async (decision: 'approve' | 'reject') => {
      await post(`/v1/actions/approvals/${a.id}/decide`, scopedBody({ decision, note: note.value || undefined }));
      notify(`Action ${decision === 'approve' ? 'approved' : 'rejected'}.`);
      await load();
    };
    const r = a.request ?? {};
    return h('article', { class: 'card', 'data-approval': a.id, 'aria-label': `Approval for ${a.tool_ref}` },
      h('h3', {}, a.tool_ref),
      h('p', { class: 'meta' }, `${a.app ?? ''} · asked ${when(a.created_at)}`, a.requested_by ? ` by ${a.requested_by}` : '', ` · expires ${when(a.expires_at)}`),
      h('dl', {},
        h('dt', {}, 'Action'), h('dd', {}, `${r.action_type ?? ''} ${r.operation ?? ''}`),
        h('dt', {}, 'Risk'), h('dd', {}, badge(r.risk_level ?? 'unrated')),
        h('dt', {}, 'Spend'), h('dd', {}, usd(r.requested_amount_usd)),
        h('dt', {}, 'Mission'), h('dd', {}, a.mission_id ?? '—'),
        h('dt', {}, 'Why'), h('dd', {}, (a.reasons ?? []).join('; ') || '—')),
      note,
      h('div', { class: 'actions' },
        button('Approve', () => decide('approve')),
        button('Reject', () => decide('reject'), { class: 'secondary' })));
  }

  await load();
  const stop = new AbortController();
  let pending: number | undefined;
  stream(scoped('/v1/events'), (kind) => {
    if (kind === 'closed') { live.textContent = 'Live updates: off (signed out)'; return; }
    // On every (re)connection too: events between the last read and the stream are not lost.
    if (kind === 'open') live.textContent = 'Live updates: on';
    // Bursts (a batch of notes) reload once.
    clearTimeout(pending);
    pending = window.setTimeout(() => load().catch((e) => notify(e.message, true)), 200);
  }, stop.signal);
  return () => { stop.abort(); clearTimeout(pending); };
}
