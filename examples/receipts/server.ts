// An attested handler whose answers carry a receipt: a third party who saves a response and its
// Webhost-Receipt header can later prove that this code (this project, this deployment) produced
// exactly those bytes — `webhost verify --receipt-url <url>` checks it against the project's
// evidence. The daemon signs the receipt with the project's app key, which never leaves it.
//
//   GET /?name=ada          → JSON answer, receipt in the Webhost-Receipt header
//   GET /quote?data=<text>  → a TDX quote binding this deployment and SHA-256(<text>)
//                             (attested projects only; rate-limited by the daemon)

interface Receipt {
  v: 1;
  project: string;
  deployment_id: string;
  app_key: string;
  payload_sha256: string;
  signature: string;
}

interface Ctx {
  project: { name: string; deployment: string | null };
  receipt(payload: string | Uint8Array): Promise<Receipt>;
  quote(data: string | Uint8Array): Promise<{ quote: string; preimage: unknown; report_data: string; event_log: string }>;
}

// Browsers may read the receipt header from any origin: it is meant to be kept and shown.
const CORS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'webhost-receipt' };

export default async (req: Request, ctx: Ctx): Promise<Response> => {
  const url = new URL(req.url);
  if (url.pathname === '/quote') {
    try {
      return Response.json(await ctx.quote(url.searchParams.get('data') ?? ''), { headers: CORS });
    } catch (err) {
      // not attested yet, or too many quotes: the message says which
      return Response.json({ error: (err as Error).message }, { status: 403, headers: CORS });
    }
  }
  const name = (url.searchParams.get('name') ?? 'world').slice(0, 100);
  // The receipt covers these exact bytes: send them as they are, after signing.
  const body = JSON.stringify({ message: `hello ${name}`, issued_at: new Date().toISOString() });
  const receipt = await ctx.receipt(body);
  return new Response(body, {
    headers: { 'content-type': 'application/json', 'webhost-receipt': JSON.stringify(receipt), ...CORS },
  });
};
