// External calls the runtime performs for sessions: fetch() from app code.
// The idempotency key travels as the Idempotency-Key header, so a callee can
// deduplicate a call that a crash left in doubt and a resume repeats.

export interface FetchCallRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
  bodyEncoding?: 'utf8' | 'base64';
}

/** `signal` aborts the call (the server aborts what is still running once it has closed its journal). */
export async function performCall(name: string, request: unknown, idempotencyKey: string, signal?: AbortSignal): Promise<unknown> {
  if (name !== 'fetch') throw new TypeError(`unknown host call "${name}"`);
  const r = request as FetchCallRequest;
  const body = r.body === null ? undefined : r.bodyEncoding === 'base64' ? Buffer.from(r.body, 'base64') : r.body;
  const response = await fetch(r.url, {
    method: r.method,
    headers: { ...r.headers, 'idempotency-key': r.headers['idempotency-key'] ?? idempotencyKey },
    body,
    signal,
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  const type = response.headers.get('content-type') ?? '';
  const text = /^(text\/|application\/(json|xml|javascript)|[^;]*\+json)/.test(type) || type === '';
  return {
    status: response.status,
    statusText: response.statusText,
    headers: Object.fromEntries(response.headers.entries()),
    body: text ? bytes.toString('utf8') : bytes.toString('base64'),
    bodyEncoding: text ? 'utf8' : 'base64',
  };
}
