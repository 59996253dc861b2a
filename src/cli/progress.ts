// An upload progress bar on stderr (redrawn in place on a terminal, one final line otherwise).

function size(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function progressStream(data: Uint8Array, label: string, out: NodeJS.WriteStream = process.stderr): ReadableStream<Uint8Array> {
  const total = data.length;
  const chunk = 64 * 1024;
  let sent = 0;
  let lastDraw = 0;
  const draw = (final: boolean) => {
    const pct = total ? Math.round((sent / total) * 100) : 100;
    const width = 24;
    const filled = Math.round((pct / 100) * width);
    const line = `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(pct).padStart(3)}% ${size(sent)} / ${size(total)}`;
    if (out.isTTY) out.write(`\r${line}${final ? '\n' : ''}`);
    else if (final) out.write(`${line}\n`);
  };
  return new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (sent >= total) {
        draw(true);
        ctrl.close();
        return;
      }
      const next = data.subarray(sent, sent + chunk);
      sent += next.length;
      const now = Date.now();
      if (now - lastDraw > 80) {
        lastDraw = now;
        draw(false);
      }
      ctrl.enqueue(next);
    },
  });
}
