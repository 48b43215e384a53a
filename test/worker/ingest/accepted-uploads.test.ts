import { describe, expect, it } from 'vitest';
import { AcceptedUploads, uploadKey } from '@polyprune/worker/ingest/accepted-uploads';

describe('AcceptedUploads', () => {
  it('keeps the latest entries, a read counting as use', () => {
    const m = new AcceptedUploads<number>(3);
    for (const k of ['a', 'b', 'c']) m.set(k, k.charCodeAt(0));
    expect(m.get('a')).toBe(97);
    m.set('d', 100);
    expect([m.get('a'), m.get('b'), m.get('c'), m.get('d'), m.size]).toEqual([97, undefined, 99, 100, 3]);
    m.set('c', 1);
    m.set('e', 2);
    expect([m.get('a'), m.get('c'), m.get('d'), m.get('e')]).toEqual([undefined, 1, 100, 2]);
  });

  it('a key tells every option apart, however the values would join as text', () => {
    const keys = [
      uploadKey('s', ['fr', 'en', 'skip', false, undefined]),
      uploadKey('s', ['fr', 'en', 'skip', false, 'tsv']),
      uploadKey('s', ['fr', 'en', 'skip', true, undefined]),
      uploadKey('s', ['fr', 'en', 'reject', false, undefined]),
      uploadKey('s', ['fr,en', 'skip', false, undefined]),
      uploadKey('s', ['en', 'fr', 'skip', false, undefined]),
      uploadKey('t', ['fr', 'en', 'skip', false, undefined]),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});
