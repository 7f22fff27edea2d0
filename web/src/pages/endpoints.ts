// Local endpoints: register an OpenAI-compatible server, recheck it, see its models and health.
import { del, get, post } from '../api';
import { badge, button, field, form, h, notify, section, table, when } from '../ui';

export async function endpoints(main: HTMLElement) {
  const list = h('div', { id: 'endpoints' });
  async function load() {
    const rows = (await get('/v1/local-endpoints')).data as any[];
    list.replaceChildren(table('Local endpoints', rows, [
      { label: 'Label', cell: (e) => e.label },
      { label: 'URL', cell: (e) => e.url },
      { label: 'Health', cell: (e) => h('span', {}, badge(e.status), e.last_error ? ` ${e.last_error}` : '') },
      { label: 'Models', cell: (e) => (e.models ?? []).join(', ') || '—' },
      { label: 'Checked', cell: (e) => when(e.checked_at) },
      { label: 'Actions', cell: (e) => h('div', { class: 'actions' },
        button('Recheck', async () => { await post(`/v1/local-endpoints/${e.id}/recheck`); notify('Rechecked.'); await load(); }, { class: 'secondary' }),
        button('Delete', async () => { if (confirm(`Delete ${e.label}?`)) { await del(`/v1/local-endpoints/${e.id}`); await load(); } }, { class: 'danger' })) },
    ], 'No local endpoints: register an Ollama, vLLM or LocalAI server below.'));
  }
  main.append(section('Endpoints', list, form('Register an endpoint', [
    field('Label', 'label', { required: true }), field('URL', 'url', { type: 'url', required: true, placeholder: 'http://192.168.1.20:11434' }),
    field('Default model', 'default_model'),
  ], 'Register', async (v) => {
    await post('/v1/local-endpoints', { label: v.label, url: v.url, default_model: v.default_model || undefined });
    notify(`Registered ${v.label}.`);
    await load();
  })));
  await load();
}
