// A Node handler in the web-standard form: (Request, ctx) => Response.
export default async function handler(req, ctx) {
  const url = new URL(req.url);
  return Response.json({ hello: ctx.env.GREETING ?? 'world', runtime: 'node', path: url.pathname, query: url.search });
}
