// A WebSocket echo (and a plain page that uses it). Works at /<name>/ and on the project's own origin.
export default (req: Request) => {
  if (req.headers.get('upgrade')?.toLowerCase() === 'websocket') {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => socket.send(`echo: ${e.data}`);
    return response;
  }
  return new Response(
    `<!doctype html><meta charset="utf-8"><title>echo</title>
<input id="m" value="hello"><button id="b">send</button><pre id="o"></pre>
<script>
const ws = new WebSocket(location.href.replace(/^http/, 'ws'));
ws.onmessage = (e) => { document.getElementById('o').textContent += e.data + '\\n'; };
document.getElementById('b').onclick = () => ws.send(document.getElementById('m').value);
</script>`,
    { headers: { 'content-type': 'text/html; charset=utf-8' } },
  );
};
