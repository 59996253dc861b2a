// A Bun handler: an object with fetch(req, ctx) works as well as a plain function.
export default {
  fetch(req: Request, ctx: { env: Record<string, string> }) {
    const url = new URL(req.url);
    return Response.json({ hello: ctx.env.GREETING ?? 'world', runtime: 'bun', path: url.pathname, query: url.search });
  },
};
