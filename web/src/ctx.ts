// What every page shares: the signed-in user and the workspace the pages act in.
import { me, type Role } from './api';

let workspace = localStorage.getItem('cairn.workspace') ?? '';

export function currentWorkspace(): string { return workspace; }
export function setWorkspace(slug: string) {
  workspace = slug;
  if (slug) localStorage.setItem('cairn.workspace', slug); else localStorage.removeItem('cairn.workspace');
}

/// `path` with the chosen workspace as `workspace_id` (none: the account's default).
export function scoped(path: string): string {
  if (!workspace) return path;
  return `${path}${path.includes('?') ? '&' : '?'}workspace_id=${encodeURIComponent(workspace)}`;
}

/// `body` with the chosen workspace.
export function scopedBody<T extends object>(body: T): T & { workspace_id?: string } {
  return workspace ? { ...body, workspace_id: workspace } : body;
}

const rank: Record<Role, number> = { member: 0, reviewer: 1, admin: 2 };
export function can(role: Role): boolean {
  return !!me && rank[me.role] >= rank[role];
}
