/** Classification metrics over gold labels and predictions (both 0-based class indices). Pure. */

/** confusion[g * classes + p] counts examples with gold g predicted p. */
export function confusionMatrix(gold: ArrayLike<number>, pred: ArrayLike<number>, classes: number): Uint32Array {
  if (gold.length !== pred.length) throw new Error(`gold has ${gold.length} labels but pred has ${pred.length}`);
  const m = new Uint32Array(classes * classes);
  for (let i = 0; i < gold.length; i++) {
    const g = gold[i]!;
    const p = pred[i]!;
    if (g < 0 || g >= classes || p < 0 || p >= classes) throw new Error(`label ${g} or prediction ${p} outside 0..${classes - 1}`);
    m[g * classes + p]!++;
  }
  return m;
}

export function accuracy(gold: ArrayLike<number>, pred: ArrayLike<number>): number {
  if (gold.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < gold.length; i++) if (gold[i] === pred[i]) ok++;
  return ok / gold.length;
}

/**
 * Unweighted mean of per-class F1 over the classes that occur as gold or prediction (as
 * scikit-learn's macro average does with its default label set); 0 for no examples.
 */
export function macroF1(gold: ArrayLike<number>, pred: ArrayLike<number>, classes: number): number {
  const m = confusionMatrix(gold, pred, classes);
  let total = 0;
  let counted = 0;
  for (let c = 0; c < classes; c++) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let k = 0; k < classes; k++) {
      if (k === c) tp = m[c * classes + c]!;
      else {
        fp += m[k * classes + c]!;
        fn += m[c * classes + k]!;
      }
    }
    if (tp + fp + fn === 0) continue;
    total += (2 * tp) / (2 * tp + fp + fn);
    counted++;
  }
  return counted ? total / counted : 0;
}
