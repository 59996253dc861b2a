// source.tree in a browser: a page cannot run git, so it asks the git host's API for the tree of
// the recorded commit where the host has such an API that answers cross-origin (GitHub:
// `GET /repos/<o>/<r>/git/commits/<sha>` → `.tree.sha`). Elsewhere the check is skipped with a
// plain reason, and the CLI (which fetches the commit with git and hashes it itself) remains the
// way to run it. The lookup runs before the verifier: a definite answer (a tree, or "no such
// commit") goes to the library's check; an indefinite one (rate limit, network) leaves the check
// skipped rather than failing on the host's bad day.
import type { SourceFetcher } from '../../verify/source-check.ts';

type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export type SourceLookup =
  /** Hand this fetcher to verifyBundle; `note` says where the answer came from. */
  | { kind: 'fetcher'; fetcher: SourceFetcher; note: string }
  /** Leave source.tree skipped; `note` says why in plain words. */
  | { kind: 'skip'; note: string };

const GITHUB = /^(?:https?:\/\/|git:\/\/|ssh:\/\/git@|git@)github\.com[/:]([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/;
const FULL_SHA = /^[0-9a-f]{40}$/;

export function githubRepo(url: string): { owner: string; repo: string } | null {
  const m = GITHUB.exec(url);
  return m ? { owner: m[1]!, repo: m[2]! } : null;
}

interface GitSource {
  kind?: unknown;
  url?: unknown;
  commit_sha?: unknown;
}

/** Asks the source's git host for the commit's tree, when the record names a git source on a host we can ask. */
export async function lookUpSource(source: GitSource | undefined, fetchFn: FetchLike = fetch): Promise<SourceLookup> {
  if (!source || source.kind !== 'git') return { kind: 'skip', note: 'Not a git deployment: nothing to look up.' };
  const url = typeof source.url === 'string' ? source.url : '';
  const commit = typeof source.commit_sha === 'string' ? source.commit_sha : '';
  const gh = githubRepo(url);
  if (!gh) {
    return {
      kind: 'skip',
      note: `Not checked in the browser: ${url || 'the source'} is not on a git host whose API this page can ask (GitHub). Run the webhost verify command below: it fetches the commit with git and recomputes the tree itself.`,
    };
  }
  if (!FULL_SHA.test(commit)) return { kind: 'skip', note: 'The record names no full commit id to look up.' };
  const api = `https://api.github.com/repos/${encodeURIComponent(gh.owner)}/${encodeURIComponent(gh.repo)}/git/commits/${commit}`;
  let res: Response;
  try {
    res = await fetchFn(api, { headers: { accept: 'application/vnd.github+json' } });
  } catch (e) {
    return { kind: 'skip', note: `Not checked: GitHub's API did not answer (${(e as Error).message}). Try again later, or run the webhost verify command below.` };
  }
  const trust = "Asked GitHub's API for the commit's tree: this relies on GitHub's answer (the CLI recomputes it with git).";
  if (res.status === 404 || res.status === 422) {
    const why = `GitHub has no commit ${commit} in ${gh.owner}/${gh.repo} (HTTP ${res.status}; a private repository looks the same)`;
    return { kind: 'fetcher', note: trust, fetcher: async () => Promise.reject(new Error(why)) };
  }
  if (!res.ok) {
    const limited = res.status === 403 || res.status === 429;
    return { kind: 'skip', note: `Not checked: GitHub's API answered HTTP ${res.status}${limited ? ' (probably its hourly limit for unauthenticated requests)' : ''}. Try again later, or run the webhost verify command below.` };
  }
  let tree: unknown;
  let sha: unknown;
  try {
    const body = (await res.json()) as { sha?: unknown; tree?: { sha?: unknown } };
    tree = body.tree?.sha;
    sha = body.sha;
  } catch {
    tree = undefined;
  }
  if (typeof tree !== 'string' || !FULL_SHA.test(tree) || sha !== commit) {
    return { kind: 'skip', note: "Not checked: GitHub's API answered with something other than the commit asked for." };
  }
  return { kind: 'fetcher', note: trust, fetcher: async () => tree as string };
}
