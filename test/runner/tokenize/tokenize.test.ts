import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromJson, loadTokenizer } from '@polyprune/gpu-runner/tokenize/index';

const fixtures = path.join(import.meta.dirname, '../../fixtures/models');

describe('tokenizer loading (offline, from tokenizer.json + config.json)', () => {
  for (const family of ['gpt2', 'bloom', 'xglm', 'llama']) {
    it(`${family}: round-trips multilingual text and takes EOS/pad from the model's files`, async () => {
      const tok = await loadTokenizer(path.join(fixtures, family));
      const text = 'Le chat dort. Der Hund läuft. Кошка спит.';
      const ids = tok.encode(text);
      expect(ids.length).toBeGreaterThan(3);
      expect(ids.every((i) => Number.isInteger(i) && i >= 0 && i < tok.vocabSize)).toBe(true);
      expect(tok.decode(ids).replace(/^ /, '')).toBe(text);
      const config = (await import(path.join(fixtures, family, 'config.json'), { with: { type: 'json' } })).default as {
        eos_token_id: number;
        pad_token_id?: number;
      };
      expect(tok.eosId).toBe(config.eos_token_id);
      expect(tok.padId).toBe(config.pad_token_id ?? config.eos_token_id);
      // The EOS token string, written inside text, encodes to the EOS id (calibration relies on it).
      expect(tok.encode(`a${tok.eosToken}b`)).toContain(tok.eosId);
    });
  }

  it('reports the special prefix a TemplateProcessing post-processor adds (XGLM puts </s> first)', async () => {
    const dir = path.join(fixtures, 'xglm');
    const json = JSON.parse(await readFile(path.join(dir, 'tokenizer.json'), 'utf8'));
    const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'));
    const eos = json.added_tokens.find((t: { id: number }) => t.id === config.eos_token_id).content as string;
    const plain = fromJson(json, {}, config);
    expect(plain.prefixIds).toEqual([]);
    json.post_processor = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: eos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: eos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [eos]: { id: eos, ids: [config.eos_token_id], tokens: [eos] } },
    };
    const templated = fromJson(json, {}, config);
    expect(templated.prefixIds).toEqual([config.eos_token_id]);
    // encode() itself never adds them: calibration places them explicitly.
    expect(templated.encode('Bonjour')).toEqual(plain.encode('Bonjour'));
  });

  it('names the missing file', async () => {
    await expect(loadTokenizer('/nonexistent-dir')).rejects.toThrow(/tokenizer\.json is missing: upload the tokenizer\.json that came with the export/);
  });
});
