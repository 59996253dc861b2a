// The admin page's API client. The token is typed in once and kept in sessionStorage: it lives
// only as long as this tab, is sent only to this daemon (same-origin relative URLs), and is never
// written into the page.
import { ApiError, fetchJson } from './api-client.ts';

const TOKEN_KEY = 'dstack-webhost.admin-token';

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // nothing stored
  }
}

export interface ProjectView {
  name: string;
  mode: 'dev' | 'attested';
  runtime: string;
  entry?: string;
  source: string | null;
  source_kind?: string;
  ref?: string | null;
  commit_sha: string | null;
  claimed_commit_sha?: string | null;
  tree_hash: string | null;
  deployment_id: string;
  deployed_at: string;
  created_at: string;
  promoted_at: string | null;
  env_names: string[];
  status: string;
}

export interface DeploymentRow {
  id: string;
  current: boolean;
  created_at: string;
  runtime: string;
  entry: string;
  kind?: string;
  url?: string | null;
  ref?: string | null;
  commit_sha?: string | null;
  tree_hash?: string | null;
  env_names?: string[];
}

export class AdminApi {
  private readonly token: string;
  constructor(token: string) {
    this.token = token;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...extra };
  }

  request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method, headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }), cache: 'no-store' };
    if (body !== undefined) init.body = JSON.stringify(body);
    return fetchJson<T>(path, init);
  }

  projects = () => this.request<ProjectView[]>('GET', '/_api/projects');
  deployments = (name: string) => this.request<DeploymentRow[]>('GET', `/_api/projects/${encodeURIComponent(name)}/deployments`);
  deploy = (manifest: Record<string, unknown>) => this.request<ProjectView>('POST', '/_api/projects', manifest);
  promote = (name: string) => this.request<ProjectView>('POST', `/_api/projects/${encodeURIComponent(name)}/promote`);
  redeploy = (name: string) => this.request<ProjectView & { changed: boolean }>('POST', `/_api/projects/${encodeURIComponent(name)}/redeploy`);
  rollback = (name: string, deployment: string) => this.request<ProjectView>('POST', `/_api/projects/${encodeURIComponent(name)}/rollback`, { deployment });
  remove = (name: string) => this.request<{ ok: boolean }>('DELETE', `/_api/projects/${encodeURIComponent(name)}`);

  /** The app's log, streamed: `onText` gets each decoded chunk until `signal` aborts or the stream ends. */
  async followLogs(name: string, signal: AbortSignal, onText: (text: string) => void): Promise<void> {
    const res = await fetch(`/_api/projects/${encodeURIComponent(name)}/logs?follow=1&tail=200`, { headers: this.headers(), signal, cache: 'no-store' });
    if (!res.ok || !res.body) {
      const b = (await res.json().catch(() => ({}))) as { error?: string; code?: string };
      throw new ApiError(res.status, b.code ?? 'http_error', b.error ?? `HTTP ${res.status}`);
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onText(value);
    }
  }
}

export const isAuthError = (e: unknown): boolean => e instanceof ApiError && (e.status === 401 || e.status === 403);
