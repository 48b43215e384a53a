/**
 * One colour per variant on every chart of every page. A method family (wanda on translation
 * demonstrations, wanda on monolingual text, magnitude, random…) has a fixed hue, so magnitude is
 * green on a model's page and across models; calibration pairs and patterns of one family take its
 * shades in sorted order. Dense is near-black, as the dashed dense line of the sparsity charts.
 */
import { seriesKeyOf } from '@polyprune/shared/series-key';

export const DENSE_COLOUR = '#333333';

const FAMILIES: Record<string, string[]> = {
  'wanda mt': ['#1f77b4', '#6baed6', '#08519c', '#9ecae1', '#3182bd'],
  'wanda mono': ['#ff7f0e', '#fdae6b', '#a63603', '#fdd0a2', '#e6550d'],
  'wanda mt-contrast': ['#9467bd', '#bcbddc', '#54278f', '#dadaeb', '#756bb1'],
  magnitude: ['#2ca02c', '#74c476', '#006d2c', '#a1d99b', '#31a354'],
  random: ['#d62728', '#fb6a4a', '#99000d', '#fcae91', '#ef3b2c'],
};
const OTHER = ['#8c564b', '#e377c2', '#bcbd22', '#17becf', '#7f7f7f', '#c49c94', '#dbdb8d', '#9edae5'];

type SeriesLike = { method: string; pattern: string | null; calibration: string | null };

/** "wanda mt" from "wanda" + "mt:fr-en"; methods without calibration are their own family. */
const familyOf = (s: SeriesLike) => (s.calibration ? `${s.method} ${s.calibration.split(':')[0]}` : s.method);

/**
 * The colours of a page's series (keys from `seriesKeyOf`): each key's shade is its rank among the
 * page's keys of the same family, so a page with one pair per family gives the same hex everywhere.
 */
export function paletteOf(series: SeriesLike[]): (s: SeriesLike & { dense?: boolean }) => string {
  const keys = new Map<string, string[]>();
  for (const s of series) {
    if (s.method === 'dense') continue;
    const f = familyOf(s);
    const k = seriesKeyOf(s);
    const list = keys.get(f) ?? [];
    if (!list.includes(k)) list.push(k);
    keys.set(f, list);
  }
  for (const list of keys.values()) list.sort();
  const others = [...keys.keys()].filter((f) => !FAMILIES[f]).sort();
  return (s) => {
    if (s.dense || s.method === 'dense') return DENSE_COLOUR;
    const f = familyOf(s);
    const shades = FAMILIES[f] ?? [OTHER[Math.max(0, others.indexOf(f)) % OTHER.length]!];
    const i = Math.max(0, keys.get(f)?.indexOf(seriesKeyOf(s)) ?? 0);
    return shades[i % shades.length]!;
  };
}
