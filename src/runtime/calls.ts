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

/** The call took longer than the server's --call-timeout: journaled as the call's error, like any other. */
export class CallTimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * `signal` aborts the call (the server aborts what is still running once it
 * has closed its journal); `timeoutMs` (0: none) bounds it, so that a callee
 * that never answers cannot hold a session, and the duplicates waiting on
 * its Idempotency-Key, for as long as the HTTP client's own limits (minutes).
 */
export async function performCall(name: string, request: unknown, idempotencyKey: string, signal?: AbortSignal, timeoutMs = 0): Promise<unknown> {
  if (name !== 'fetch') throw new TypeError(`unknown host call "${name}"`);
  const r = request as FetchCallRequest;
  const body = r.body === null ? undefined : r.bodyEncoding === 'base64' ? Buffer.from(r.body, 'base64') : r.body;
  const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : null;
  const signals = [signal, timeout].filter((s): s is AbortSignal => s != null);
  let response: Response;
  let bytes: Buffer;
  try {
    response = await fetch(r.url, {
      method: r.method,
      headers: { ...r.headers, 'idempotency-key': r.headers['idempotency-key'] ?? idempotencyKey },
      body,
      signal: signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals),
    });
    bytes = Buffer.from(await response.arrayBuffer());
  } catch (error) {
    if (timeout?.aborted && !signal?.aborted) throw new CallTimeoutError(`${r.method} ${r.url}: no answer within ${timeoutMs} ms (--call-timeout)`);
    throw error;
  }
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
