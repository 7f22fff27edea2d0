// The one way the dashboard talks to Cairn: bearer session token in memory (never stored),
// refreshed from the HttpOnly cookie when it expires; errors carry the API's message.

export type Role = 'admin' | 'reviewer' | 'member';
export interface User { id: string; email: string; role: Role }

let token: string | null = null;
export let me: User | null = null;

export class ApiError extends Error {
  constructor(public status: number, message: string) { super(message); }
}

function messageOf(status: number, body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    if (typeof b.message === 'string') return b.message;
    if (typeof b.error === 'string') return b.error;
    const e = b.error as Record<string, unknown> | undefined;
    if (e && typeof e.message === 'string') return e.message;
  }
  return `The server answered ${status}`;
}

interface Options { form?: FormData; raw?: boolean; retried?: boolean }

export async function api<T = any>(method: string, path: string, body?: unknown, opts: Options = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload: BodyInit | undefined;
  if (opts.form) payload = opts.form;
  else if (body !== undefined) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  const res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  if (res.status === 401 && !opts.retried && token && (await refresh())) {
    return api<T>(method, path, body, { ...opts, retried: true });
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = text; }
  if (!res.ok) throw new ApiError(res.status, messageOf(res.status, parsed));
  return parsed as T;
}

export const get = <T = any>(path: string) => api<T>('GET', path);
export const post = <T = any>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const patch = <T = any>(path: string, body: unknown) => api<T>('PATCH', path, body);
export const put = <T = any>(path: string, body: unknown) => api<T>('PUT', path, body);
export const del = <T = any>(path: string) => api<T>('DELETE', path);

function signedIn(body: { access_token: string; user: User }) {
  token = body.access_token;
  me = body.user;
}

let refreshing: Promise<boolean> | null = null;

/// A new session token from the refresh cookie; false when there is no valid cookie. One at a
/// time: the server takes a refresh token used twice for a stolen one and ends every session.
export function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const res = await fetch('/api/auth/refresh', { method: 'POST', credentials: 'same-origin' });
      if (!res.ok) { token = null; me = null; return false; }
      signedIn(await res.json());
      return true;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export async function login(email: string, password: string) {
  signedIn(await api('POST', '/api/auth/login', { email, password }));
}

export async function setup(setup_token: string, email: string, password: string) {
  signedIn(await api('POST', '/v1/setup', { setup_token, email, password }));
}

export async function logout() {
  try { await api('POST', '/api/auth/logout', {}); } finally { token = null; me = null; }
}

export function bearer(): string | null { return token; }

/// Reads a Server-Sent Events stream with the session token (EventSource cannot send it) and
/// calls `on` per event until `signal` aborts; reconnects with Last-Event-ID after a drop,
/// with a fresh token when the session's expired. `on('open')` after each (re)connection and
/// `on('lagged')` when the server dropped events: the caller reloads what it shows;
/// `on('closed')` when the session is gone for good.
export async function stream(path: string, on: (kind: string, data: any) => void, signal: AbortSignal) {
  let last: string | null = null;
  while (!signal.aborted) {
    try {
      if (!token) { on('closed', null); return; }
      const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
      if (last) headers['Last-Event-ID'] = last;
      const res = await fetch(path, { headers, signal });
      if (res.status === 401) {
        if (await refresh()) continue;
        on('closed', null);
        return;
      }
      if (!res.ok || !res.body) throw new Error(String(res.status));
      on('open', null);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let kind = 'message', data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith(': lagged')) on('lagged', null);
            if (line.startsWith('event:')) kind = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
            else if (line.startsWith('id:')) last = line.slice(3).trim();
          }
          if (data) { try { on(kind, JSON.parse(data)); } catch { on(kind, data); } }
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}
