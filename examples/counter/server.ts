// A counter that keeps its state in ctx.dataDir: the folder survives restarts and redeploys.
export default async (req: Request, ctx: { dataDir: string }) => {
  const file = `${ctx.dataDir}/count.txt`;
  let count = Number(await Deno.readTextFile(file).catch(() => '0'));
  if (req.method === 'POST') {
    count += 1;
    // Write then rename, so a crash never leaves a half-written count.
    await Deno.writeTextFile(`${file}.tmp`, String(count));
    await Deno.rename(`${file}.tmp`, file);
  }
  return Response.json({ count });
};
