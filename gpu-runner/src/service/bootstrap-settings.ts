/**
 * Resampling of the metric intervals and of the paired bootstraps against dense (accuracy, ppl, chrF,
 * BLEU and RankC alike): fixed, and recorded in a run's extra.seeds.
 */
export const METRIC_INTERVALS = { seed: 0, resamples: 1000 } as const;
export const DENSE_BOOTSTRAP = { seed: 0, resamples: 1000 } as const;
