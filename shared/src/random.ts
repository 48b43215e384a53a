/**
 * mulberry32: a 32-bit state PRNG, tiny and fast, with good enough equidistribution for the random
 * baseline and bootstrap resampling. Returns floats in [0, 1); same seed → same sequence on every
 * platform (only 32-bit integer arithmetic), so results are reproducible from their recorded seed.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
