import type { CalibrationCorpus } from '@polyprune/shared/api/jobs';

/**
 * The pair label of a calibration mix: the sources joined by "+" before a shared target
 * ("fr-en", "sw-en", "zh-en" → "fr+sw+zh-en"), else the whole pairs joined by "+"
 * ("fr-en+en-de"). A mix of one is its pair.
 */
export function mixPair(pairs: readonly { src: string; tgt: string }[]): string {
  const tgt = pairs[0]?.tgt;
  if (pairs.every((p) => p.tgt === tgt)) return `${pairs.map((p) => p.src).join('+')}-${tgt}`;
  return pairs.map((p) => `${p.src}-${p.tgt}`).join('+');
}

/**
 * The weights of a mix as the variant names them: nothing when all are equal (the default), else
 * relative to the smallest ("2:1:1"), so that proportional weights, which draw the same samples,
 * name the same variant.
 */
export function mixWeights(corpora: readonly CalibrationCorpus[]): string | null {
  const ws = corpora.map((c) => c.weight);
  if (ws.every((w) => w === ws[0])) return null;
  const min = Math.min(...ws);
  return ws.map((w) => String(Math.round((w / min) * 1000) / 1000)).join(':');
}
