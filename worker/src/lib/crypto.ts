export const hex = (buf: ArrayBuffer) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');

export async function sha256Hex(data: ArrayBuffer | Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return hex(await crypto.subtle.digest('SHA-256', bytes));
}

/** Streams an R2 object (or any stream) through a digest without buffering it whole. */
export async function sha256OfStream(stream: ReadableStream<Uint8Array>): Promise<string> {
  const digest = new crypto.DigestStream('SHA-256');
  await stream.pipeTo(digest);
  return hex(await digest.digest);
}

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** 32 random bytes: the secret part of an API token. */
export function newSecret(): string {
  return `pp_${base64url(crypto.getRandomValues(new Uint8Array(32)))}`;
}

/**
 * Sortable ids (time prefix, then randomness) so cursor pagination can page by id alone.
 */
export function newId(prefix: string): string {
  const t = Date.now().toString(36).padStart(9, '0');
  const r = base64url(crypto.getRandomValues(new Uint8Array(9))).replace(/[-_]/g, 'x');
  return `${prefix}_${t}${r}`;
}

/**
 * Constant-time comparison of two secrets of any length. Both are hashed to 32-byte SHA-256 digests
 * and the digests compared in constant time, so neither an early exit nor the time taken tells a
 * caller how long the expected secret is.
 */
export async function safeEqual(given: string, expected: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [a, b] = await Promise.all([crypto.subtle.digest('SHA-256', enc.encode(given)), crypto.subtle.digest('SHA-256', enc.encode(expected))]);
  return crypto.subtle.timingSafeEqual(a, b);
}
