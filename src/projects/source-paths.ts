// Rules every deployed file path and link obeys, for git checkouts and uploads alike: paths stay
// inside the source folder, links point inside it, and nothing is named `.git`.
import path from 'node:path';
import { badRequest } from '../lib/http-error.ts';

/** Normalizes an archive member name to a relative POSIX path, or throws naming the member. */
export function safeRelativePath(name: string): string {
  if (name.includes('\0')) throw badRequest('unsafe_archive', `archive member ${JSON.stringify(name)} contains a NUL byte`, 'files');
  if (name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name)) {
    throw badRequest('unsafe_archive', `archive member ${JSON.stringify(name)} has an absolute path`, 'files');
  }
  if (name.includes('\\')) throw badRequest('unsafe_archive', `archive member ${JSON.stringify(name)} contains a backslash`, 'files');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw badRequest('unsafe_archive', `archive member ${JSON.stringify(name)} climbs out with '..'`, 'files');
  if (parts.some((p) => p.toLowerCase() === '.git')) {
    throw badRequest('unsafe_archive', `archive member ${JSON.stringify(name)} is inside a .git folder; upload a plain source tree`, 'files');
  }
  return parts.join('/');
}

/** A symlink at `linkPath` (relative to the source root) may only point at something inside the root. */
export function checkLinkTarget(linkPath: string, target: string): void {
  if (target === '' || target.includes('\0') || path.posix.isAbsolute(target)) {
    throw badRequest('unsafe_link', `link ${JSON.stringify(linkPath)} points outside the source (${JSON.stringify(target)})`, 'files');
  }
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(linkPath), target));
  if (resolved === '..' || resolved.startsWith('../')) {
    throw badRequest('unsafe_link', `link ${JSON.stringify(linkPath)} points outside the source (${JSON.stringify(target)})`, 'files');
  }
}
