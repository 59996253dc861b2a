// The HTML each page starts from: a static shell that loads the page's bundle and stylesheet. All
// content is built by the bundle with DOM text nodes; the shell carries no data, so nothing a
// request or a project says can reach the HTML parser. What little is interpolated is escaped anyway.

export interface Shell {
  title: string;
  /** Visible heading before the script runs (and the no-script message). */
  heading: string;
  /** URL of the page's script and stylesheet. */
  script: string;
  style: string;
  icon: string;
  /** Shown when scripts are off: what the page needs them for, and the alternative. */
  noscript: string;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);

export function renderShell(s: Shell): string {
  const e = escapeHtml;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${e(s.title)}</title>
<link rel="icon" href="${e(s.icon)}" type="image/svg+xml">
<link rel="stylesheet" href="${e(s.style)}">
<script type="module" src="${e(s.script)}"></script>
</head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
<main id="main" tabindex="-1">
<h1>${e(s.heading)}</h1>
<noscript><p>${e(s.noscript)}</p></noscript>
<p class="loading" role="status">Loading…</p>
</main>
</body>
</html>
`;
}
