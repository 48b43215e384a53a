import { describe, expect, it } from 'vitest';
import { pruneJobSpec } from '@polyprune/shared/api/jobs';
import { variantOf } from '@polyprune/worker/jobs/variant';

const spec = (o: Record<string, unknown>) => pruneJobSpec.parse({ kind: 'prune', modelId: 'm', calibration: { corpusId: 'c' }, ...o });

describe('variant labels', () => {
  it('sparsegpt is a calibrated method with its own row; non-default options make another', () => {
    expect(variantOf(spec({ method: 'sparsegpt' }), 'fr-en')).toMatchObject({
      variant: 'sparsegpt 50% mt:fr-en',
      method: 'sparsegpt',
      calibration: 'mt:fr-en',
    });
    expect(variantOf(spec({ method: 'sparsegpt', percdamp: 0.01, blocksize: 128 }), 'fr-en').variant).toBe('sparsegpt 50% mt:fr-en');
    expect(variantOf(spec({ method: 'sparsegpt', percdamp: 0.1, blocksize: 64, pattern: '2:4' }), 'fr-en').variant).toBe('sparsegpt+damp0.1+bs64 2:4 mt:fr-en');
    expect(variantOf(spec({ method: 'sparsegpt', mode: 'oneshot' }), 'fr-en').variant).toBe('sparsegpt 50% mt:fr-en oneshot');
    expect(variantOf(spec({ method: 'wanda' }), 'fr-en').variant).toBe('wanda 50% mt:fr-en');
  });
});
