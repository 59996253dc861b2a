// Credentials embedded in a git URL (https://user:token@host/…) are secrets: they are used to fetch,
// and never shown — not in a deployment record, a response, a log line or an error.

/** The URL without its userinfo. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1');
}

/** Any URL userinfo inside free text (e.g. git's error output). */
export function redactText(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1');
}
