import { describe, expect, it } from 'vitest';
import { formDataBody } from '@polyprune/shared/form-data';

describe('formDataBody', () => {
  it('is read back part by part by the platform FormData parser, bytes unchanged', async () => {
    const src = new TextEncoder().encode('Le chat dort.\nIl pleut.\n');
    const tgt = new Uint8Array([0x54, 0x68, 0x65, 0x20, 0xe2, 0x82, 0xac, 0x0a]); // "The €\n"
    const form = formDataBody([
      { name: 'src', filename: 'fra_Latn.devtest', bytes: src },
      { name: 'tgt', filename: 'a "quoted"\r\nname', bytes: tgt },
    ]);
    const parsed = await new Response(form.body, { headers: { 'content-type': form.contentType } }).formData();
    const s = parsed.get('src') as File;
    const t = parsed.get('tgt') as File;
    expect(s.name).toBe('fra_Latn.devtest');
    expect(new Uint8Array(await s.arrayBuffer())).toEqual(src);
    expect(new Uint8Array(await t.arrayBuffer())).toEqual(tgt);
    // Quotes and line breaks of a file name cannot end the header early.
    expect(t.name).toBe('a _quoted___name');
  });

  it('uses the boundary it names in the content type', () => {
    const form = formDataBody([{ name: 'a', filename: 'a', bytes: new Uint8Array() }], 'b-123');
    expect(form.contentType).toBe('multipart/form-data; boundary=b-123');
    const text = new TextDecoder().decode(form.body);
    expect(text.startsWith('--b-123\r\n')).toBe(true);
    expect(text.endsWith('--b-123--\r\n')).toBe(true);
  });
});
