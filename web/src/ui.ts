// Small DOM helpers: every page is built from these, so focus, labels and empty states are
// the same everywhere.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, unknown>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener);
    else if (k === 'class') el.className = String(v);
    else if (k === 'value' && 'value' in el) (el as HTMLInputElement).value = String(v);
    else if (k === 'checked' && 'checked' in el) (el as HTMLInputElement).checked = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

let uid = 0;
/// A labelled input; `name` is the form field.
export function field(label: string, name: string, attrs: Attrs = {}): HTMLElement {
  const id = `f${++uid}`;
  const tag = attrs.type === 'textarea' ? 'textarea' : attrs.type === 'select' ? 'select' : 'input';
  const { options, ...rest } = attrs as Attrs & { options?: [string, string][] };
  if (tag !== 'input') delete rest.type;
  const input = h(tag as 'input', { id, name, ...rest });
  if (options) for (const [v, t] of options) input.append(h('option', { value: v }, t));
  if (options && rest.value !== undefined) (input as unknown as HTMLSelectElement).value = String(rest.value);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

/// A form whose submit gathers its fields and reports errors in its own status line.
export function form(title: string, fields: HTMLElement[], submit: string, onSubmit: (v: Record<string, string>, f: HTMLFormElement) => Promise<void>): HTMLFormElement {
  const status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
  const f = h('form', { class: 'card', 'aria-label': title }, h('h3', {}, title), ...fields, h('button', { type: 'submit' }, submit), status);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const values: Record<string, string> = {};
    new FormData(f).forEach((v, k) => { if (typeof v === 'string') values[k] = v; });
    for (const box of Array.from(f.querySelectorAll<HTMLInputElement>('input[type=checkbox]'))) values[box.name] = box.checked ? 'true' : 'false';
    status.textContent = '';
    status.className = 'form-status';
    const button = f.querySelector('button[type=submit]') as HTMLButtonElement;
    button.disabled = true;
    try { await onSubmit(values, f); } catch (err) { status.textContent = (err as Error).message; status.className = 'form-status error'; } finally { button.disabled = false; }
  });
  return f;
}

export interface Column<T> { label: string; cell: (row: T) => Child }

/// A table, or `empty` when there are no rows.
export function table<T>(caption: string, rows: T[], columns: Column<T>[], empty: string): HTMLElement {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col' }, c.label)))),
      h('tbody', {}, ...rows.map((r) => h('tr', {}, ...columns.map((c) => h('td', { 'data-label': c.label }, c.cell(r))))))));
}

export function button(label: string, onClick: () => Promise<void> | void, attrs: Attrs = {}): HTMLButtonElement {
  const b = h('button', { type: 'button', ...attrs }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    try { await onClick(); } catch (err) { notify((err as Error).message, true); } finally { b.disabled = false; }
  });
  return b;
}

export function badge(text: unknown): HTMLElement {
  const t = String(text ?? '');
  return h('span', { class: `badge badge-${t.replace(/[^a-z_]/gi, '')}` }, t);
}

export function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { 'aria-label': title }, h('h2', {}, title), ...children);
}

/// A status message for the whole page, read out by screen readers.
export function notify(message: string, error = false) {
  const region = document.getElementById('notice');
  if (!region) return;
  region.textContent = message;
  region.className = error ? 'notice error' : 'notice';
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function usd(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : `$${n.toFixed(n < 0.01 && n > 0 ? 6 : 2)}`;
}

export function json(v: unknown): HTMLElement {
  return h('pre', { class: 'json', tabindex: '0' }, JSON.stringify(v, null, 2));
}

/// Splits `a, b` into trimmed non-empty words.
export function words(s: string | undefined): string[] {
  return (s ?? '').split(',').map((w) => w.trim()).filter(Boolean);
}
