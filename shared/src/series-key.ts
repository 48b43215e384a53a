/**
 * A method's line across sparsities: method, pattern (when not unstructured) and calibration
 * ("wanda mt:fr-en", "magnitude 2:4"). Leaderboard rows and sparsity series share it, so one
 * variant keeps one colour on every chart.
 */
export const seriesKeyOf = (c: { method: string; pattern: string | null; calibration: string | null }) =>
  [c.method, c.pattern && c.pattern !== 'unstructured' ? c.pattern : null, c.calibration].filter(Boolean).join(' ');
