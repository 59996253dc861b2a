// A Deno handler: default-export a function from Request to Response.
export default (req: Request, ctx: { env: Record<string, string>; project: { name: string } }) => {
  const url = new URL(req.url);
  return Response.json({ hello: ctx.env.GREETING ?? 'world', runtime: 'deno', path: url.pathname, query: url.search });
};
