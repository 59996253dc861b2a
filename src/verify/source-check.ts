// source.tree: the tree hash the daemon recorded is what the public source holds at that commit.
// The fetch is injected: the CLI asks the system git (`git rev-parse <commit>^{tree}` after
// fetching the commit), a page asks the git host's API; this module stays pure.
import { errorMessage, fail, pass, skip, type Check } from './check.ts';
import type { DeploymentRecord } from './deployment.ts';

/** Resolves the git tree object id of `commit` in the repository at `url`; throws when it cannot. */
export type SourceFetcher = (url: string, commit: string) => Promise<string>;

export async function checkSourceTree(record: DeploymentRecord | null, fetcher: SourceFetcher | undefined): Promise<Check> {
  const id = 'source.tree';
  const title = 'Recorded tree hash reproduced from the source';
  if (!record) return skip(id, title, 'No bound deployment record (see deployment.record).');
  const s = record.source;
  if (s.kind === 'tarball') {
    return skip(id, title, `An uploaded tarball: there is nothing to fetch. Anyone holding the same files reproduces tree ${s.tree_hash} with git (git init; git add -A; git write-tree).`, { expected: s.tree_hash ?? 'null' });
  }
  if (s.kind !== 'git') return skip(id, title, `A ${s.kind} deployment has no git source; its images are pinned by digest (see deployment.record).`);
  if (!s.url || !s.commit_sha || !s.tree_hash) return skip(id, title, 'The record names no git URL, commit or tree.');
  if (!fetcher) return skip(id, title, `Not checked (no source fetcher; the CLI's --no-source): ${s.url} at ${s.commit_sha} should have tree ${s.tree_hash}.`, { expected: s.tree_hash });
  let tree: string;
  try {
    tree = (await fetcher(s.url, s.commit_sha)).trim().toLowerCase();
  } catch (e) {
    return fail(id, title, `Could not fetch commit ${s.commit_sha} from ${s.url}: ${errorMessage(e)}. The recorded tree hash is unconfirmed.`, { expected: s.tree_hash });
  }
  return tree === s.tree_hash
    ? pass(id, title, `${s.url} at commit ${s.commit_sha} has tree ${tree}, the recorded one: that public source is what was deployed.`, { expected: s.tree_hash, actual: tree, facts: { url: s.url, commit: s.commit_sha } })
    : fail(id, title, `${s.url} at commit ${s.commit_sha} has a different tree than the daemon recorded: the deployed files are not that commit.`, {
        expected: s.tree_hash,
        actual: tree,
        facts: { url: s.url, commit: s.commit_sha },
      });
}
