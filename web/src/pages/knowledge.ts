// Knowledge base: sources (drag-and-drop upload with progress, status, delete, re-index, their
// chunks), hybrid search with citations, memory notes (filter, edit, history), the entity
// graph and the events timeline.
import { bearer, del, get, patch, post, refresh } from '../api';
import { scoped, scopedBody } from '../ctx';
import { badge, button, field, form, h, notify, section, table, when } from '../ui';
import { graph } from './graph';

export async function knowledge(main: HTMLElement) {
  const sources = h('div', { id: 'sources' });
  const chunks = h('div', { id: 'chunks', tabindex: '-1' });
  const results = h('div', { id: 'search-results' });
  const notes = h('div', { id: 'notes' });
  const history = h('div', { id: 'note-history', tabindex: '-1' });
  const entities = h('div', { id: 'entities' });
  const timeline = h('div', { id: 'timeline' });
  let polling: number | undefined;

  async function loadSources() {
    const list = (await get(scoped('/v1/sources?limit=100'))).data as any[];
    sources.replaceChildren(table('Sources', list, [
      { label: 'Title', cell: (s) => s.title ?? s.filename ?? s.url ?? s.id },
      { label: 'Kind', cell: (s) => s.kind },
      { label: 'Status', cell: (s) => h('span', { 'data-status': s.status }, badge(s.status), s.error ? ` ${s.error}` : '') },
      { label: 'Added', cell: (s) => when(s.created_at) },
      { label: 'Actions', cell: (s) => h('div', { class: 'actions' },
        s.document_id ? button('Document', () => showDocument(s.document_id), { class: 'secondary', 'aria-label': `Document and chunks of ${s.title ?? s.filename ?? s.url ?? s.id}` }) : null,
        button('Re-index', async () => { await post(`/v1/sources/${s.id}/reindex`, scopedBody({})); notify('Re-indexing.'); await loadSources(); }, { class: 'secondary' }),
        button('Delete', async () => { if (confirm('Delete this source and its chunks?')) { await del(scoped(`/v1/sources/${s.id}`)); notify('Source deleted.'); await loadSources(); } }, { class: 'danger' })) },
    ], 'No sources yet: drop a file above, or add a URL or text.'));
    const busy = list.some((s) => s.status === 'queued' || s.status === 'processing');
    clearTimeout(polling);
    if (busy && document.body.contains(sources)) polling = window.setTimeout(() => loadSources().catch(() => undefined), 1000);
  }

  /// A document's facts and its chunks.
  async function showDocument(documentId: string) {
    const [doc, chunkList] = await Promise.all([
      get(scoped(`/v1/documents/${documentId}`)),
      get(scoped(`/v1/documents/${documentId}/chunks`)),
    ]);
    const list = chunkList.data as any[];
    chunks.replaceChildren(h('h3', {}, `Document: ${doc.title ?? doc.url ?? doc.id}`),
      h('dl', {},
        h('dt', {}, 'Kind'), h('dd', {}, doc.content_kind),
        h('dt', {}, 'Version'), h('dd', {}, String(doc.version)),
        h('dt', {}, 'State'), h('dd', {}, badge(doc.state)),
        h('dt', {}, 'Chunks'), h('dd', {}, String(doc.chunk_count)),
        h('dt', {}, 'Added'), h('dd', {}, when(doc.created_at))),
      table('Chunks of the document', list, [
      { label: '#', cell: (c) => c.index },
      { label: 'Page', cell: (c) => c.page ?? '—' },
      { label: 'Text', cell: (c) => h('span', { class: 'clip' }, c.text) },
    ], 'This document has no chunks.'));
    chunks.focus();
  }

  const progress = h('progress', { max: '100', value: '0', hidden: true, 'aria-label': 'Upload progress' });
  const fileInput = h('input', { type: 'file', id: 'file-input', multiple: true, class: 'visually-hidden', 'aria-label': 'Choose files to upload', tabindex: '-1' });
  const drop = h('div', { class: 'drop', id: 'drop', tabindex: '0', role: 'button' },
    'Upload files: drop them here (PDF, Markdown, text, HTML), or press Enter to choose', progress);
  drop.addEventListener('click', () => fileInput.click());
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); upload(Array.from(e.dataTransfer?.files ?? [])); });
  fileInput.addEventListener('change', () => upload(Array.from(fileInput.files ?? [])));

  /// Sends each file as multipart with upload progress (fetch has none: XMLHttpRequest).
  async function upload(files: File[]) {
    for (const file of files) {
      // The session token may have expired: XMLHttpRequest does not go through api().
      if ((await sendFile(file)) === 401 && (await refresh())) await sendFile(file);
    }
    progress.hidden = true;
    await loadSources();
  }

  /// One multipart upload; its HTTP status.
  function sendFile(file: File): Promise<number> {
      progress.hidden = false;
      progress.value = 0;
      return new Promise<number>((resolve) => {
        const xhr = new XMLHttpRequest();
        xhr.open('POST', scoped('/v1/sources'));
        xhr.setRequestHeader('Authorization', `Bearer ${bearer()}`);
        xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100); };
        xhr.onload = () => {
          if (xhr.status >= 200 && xhr.status < 300) notify(`Uploaded ${file.name}; indexing.`);
          else if (xhr.status !== 401) { let m = `Upload failed (${xhr.status})`; try { const b = JSON.parse(xhr.responseText); m = b.message ?? b.error ?? m; } catch { /* keep */ } notify(`${file.name}: ${m}`, true); }
          resolve(xhr.status);
        };
        xhr.onerror = () => { notify(`${file.name}: the upload failed`, true); resolve(0); };
        const body = new FormData();
        body.append('file', file, file.name);
        xhr.send(body);
      });
  }

  const addText = form('Add text or a URL', [
    field('Title', 'title'), field('Text', 'text', { type: 'textarea', rows: '3' }), field('or URL', 'url', { type: 'url' }),
  ], 'Add', async (v) => {
    const body = v.url ? { url: v.url } : { title: v.title || undefined, text: v.text };
    await post(scoped('/v1/sources'), body);
    notify('Source added; indexing.');
    await loadSources();
  });

  const search = form('Search', [field('Query', 'query', { type: 'search', required: true }),
    field('Mode', 'mode', { type: 'select', options: [['hybrid', 'Hybrid'], ['bm25', 'Keywords (BM25)'], ['vector', 'Vectors']] })],
  'Search', async (v) => {
    const r = await post('/v1/search', scopedBody({ query: v.query, mode: v.mode, limit: 10 }));
    results.replaceChildren(...(r.data.length ? r.data.map((hit: any, i: number) => h('article', { class: 'card hit' },
      h('p', {}, h('strong', {}, `[${i + 1}] `), hit.text),
      h('p', { class: 'meta' }, `${hit.citation.title ?? hit.citation.filename ?? hit.citation.url ?? hit.citation.source_id}`,
        hit.citation.page ? `, page ${hit.citation.page}` : '', ` · characters ${hit.citation.char_start}–${hit.citation.char_end}`,
        ` · score ${(hit.scores.fused ?? 0).toFixed(3)}`))) : [h('p', { class: 'empty' }, 'Nothing matches.')]));
  });

  async function loadNotes(status = 'approved', kind = '') {
    const q = new URLSearchParams({ status, limit: '50' });
    if (kind) q.set('kind', kind);
    const list = (await get(scoped(`/v1/memory/notes?${q}`))).data as any[];
    notes.replaceChildren(table('Memory notes', list, [
      { label: 'Note', cell: (n) => h('span', { class: 'clip' }, n.title ? `${n.title}: ${n.content}` : n.content) },
      { label: 'Kind', cell: (n) => n.kind },
      { label: 'Tags', cell: (n) => n.tags.join(', ') },
      { label: 'Updated', cell: (n) => when(n.updated_at) },
      { label: 'Actions', cell: (n) => h('div', { class: 'actions' },
        button('Edit', async () => { const c = prompt('New text', n.content); if (c && c !== n.content) { await patch(`/v1/memory/notes/${n.id}`, scopedBody({ content: c })); notify('Note updated.'); await loadNotes(status, kind); } }, { class: 'secondary' }),
        button('History', async () => {
          const hist = await get(scoped(`/v1/memory/notes/${n.id}/history`));
          history.replaceChildren(h('h3', {}, `History of “${(n.title ?? n.content).slice(0, 60)}”`), table('Note history', hist.data ?? hist.history ?? [], [
            { label: 'When', cell: (e: any) => when(e.created_at ?? e.at) },
            { label: 'Action', cell: (e: any) => badge(e.action) },
            { label: 'By', cell: (e: any) => e.actor ?? '—' },
            { label: 'Reason', cell: (e: any) => e.reason ?? '—' },
            { label: 'Text', cell: (e: any) => h('span', { class: 'clip' }, e.snapshot?.content ?? '') },
          ], 'No history.'));
          history.focus();
        }, { class: 'secondary' })) },
    ], 'No notes with this filter.'));
  }
  const noteFilter = form('Filter notes', [
    field('Status', 'status', { type: 'select', options: [['approved', 'Approved'], ['pending', 'Pending'], ['rejected', 'Rejected'], ['forgotten', 'Forgotten']] }),
    field('Kind', 'kind')], 'Filter', (v) => loadNotes(v.status, v.kind));

  async function loadGraph() {
    const [e, l] = await Promise.all([get(scoped('/v1/memory/entities?limit=100')), get(scoped('/v1/memory/links?limit=200'))]);
    entities.replaceChildren(e.data.length ? graph(e.data, l.data) : h('p', { class: 'empty' }, 'No entities yet.'));
  }
  async function loadTimeline() {
    const list = (await get(scoped('/v1/memory/events?limit=50'))).data as any[];
    timeline.replaceChildren(list.length ? h('ol', { class: 'timeline' }, ...list.map((ev) =>
      h('li', {}, h('time', { datetime: ev.occurred_at }, when(ev.occurred_at)), ' ', badge(ev.event_type), ' ', ev.summary,
        ev.mission_id ? ` (mission ${ev.mission_id})` : ''))) : h('p', { class: 'empty' }, 'No events yet.'));
  }

  main.append(
    section('Sources', drop, fileInput, addText, sources, chunks),
    section('Search', search, results),
    section('Memory notes', noteFilter, notes, history),
    section('Entities and links', entities),
    section('Events', timeline));
  await Promise.all([loadSources(), loadNotes(), loadGraph(), loadTimeline()]);
  return () => clearTimeout(polling);
}
