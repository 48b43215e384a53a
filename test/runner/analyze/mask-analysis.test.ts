/**
 * The analysis of several runs' masks.bin files (read from disk a layer at a time) and LMF reports:
 * the N × N matrices and the cross-pair LMF overlaps, each checked against a plain computation.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLmfReport, type LmfReport, ResidualAccumulator } from '@polyprune/gpu-runner/analyze/lmf';
import { type AnalysisRunInput, analyzeMasks } from '@polyprune/gpu-runner/analyze/mask-analysis';
import { type MaskFileReader, openMaskFile } from '@polyprune/gpu-runner/prune/mask-file-reader';
import { writeMaskFile } from '@polyprune/gpu-runner/prune/pack';
import { packPlain, randomRows } from './plain-masks.js';

const DIM = 16;
const FFN = 24;
const BLOCKS = 2;
type Plain = boolean[][];
/** layer id → [dOut][dIn] keep */
type RunMasks = Record<string, Plain>;

let tmp: string;
const readers: MaskFileReader[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-analysis-'));
});
afterAll(async () => {
  for (const r of readers) await r.close();
  await rm(tmp, { recursive: true, force: true });
});

function runMasks(seed: number): RunMasks {
  const out: RunMasks = {};
  for (let b = 0; b < BLOCKS; b++) {
    out[`block${b}.q`] = randomRows(DIM, DIM, DIM / 2, seed * 10 + b);
    out[`block${b}.fc2`] = randomRows(FFN, DIM, FFN / 2, seed * 10 + b + 5);
  }
  return out;
}

async function maskFile(name: string, masks: RunMasks, modelSha256 = 'a'.repeat(64)): Promise<MaskFileReader> {
  const file = path.join(tmp, name);
  await writeFile(
    file,
    writeMaskFile(
      Object.entries(masks).map(([id, keep]) => packPlain(id, keep)),
      { modelSha256 },
    ),
  );
  const r = await openMaskFile(file);
  readers.push(r);
  return r;
}

/** An LMF report whose block b has magnitudes exactly |values[b][d]| (one token per block). */
function report(pair: string, values: number[][], k: number): LmfReport {
  const acc = new ResidualAccumulator(BLOCKS, DIM);
  values.forEach((v, b) => acc.accumulateResidual(b, Float32Array.from(v)));
  return buildLmfReport([{ pair, translation: acc, monolingual: acc }], { k });
}
const loud = (dims: number[]) => Array.from({ length: DIM }, (_, d) => (dims.includes(d) ? 100 - dims.indexOf(d) : d / 100));

/** Overall figures over all layers, spelled out over position sets. */
function plainOverall(a: RunMasks, b: RunMasks) {
  let both = 0;
  let either = 0;
  let rows = 0;
  let identical = 0;
  for (const id of Object.keys(a)) {
    a[id]!.forEach((row, o) => {
      rows++;
      if (row.every((k, i) => k === b[id]![o]![i])) identical++;
      row.forEach((k, i) => {
        const kb = b[id]![o]![i]!;
        if (!k && !kb) both++;
        if (!k || !kb) either++;
      });
    });
  }
  return { jaccard: both / either, rowsIdentical: identical / rows };
}

/** Share of differing weights in LMF channels over the q layers; block b uses the set of block max(0, b−1). */
function plainLmfShare(a: RunMasks, b: RunMasks, sets: Set<number>[]) {
  let diff = 0;
  let inSet = 0;
  for (let blk = 0; blk < BLOCKS; blk++) {
    const set = sets[Math.max(0, blk - 1)]!;
    const id = `block${blk}.q`;
    a[id]!.forEach((row, o) =>
      row.forEach((k, i) => {
        if (k !== b[id]![o]![i]) {
          diff++;
          if (set.has(i)) inSet++;
        }
      }),
    );
  }
  return inSet / diff;
}

describe('analyzeMasks', () => {
  it('gives the N × N matrices and LMF overlaps of a plain computation', async () => {
    const masks = [runMasks(1), runMasks(2), runMasks(1)];
    // Run 2 differs from run 0 in one layer only.
    masks[2]!['block1.fc2'] = randomRows(FFN, DIM, FFN / 2, 99);
    const fr = report('fr-en', [loud([0, 1, 2]), loud([3, 4, 5])], 3);
    const de = report('de-en', [loud([0, 1, 9]), loud([3, 10, 11])], 3);
    const runs: AnalysisRunInput[] = [
      { runId: 'run_a', label: 'mt:fr-en', variant: 'wanda 50% mt:fr-en', modelSha256: 'a'.repeat(64), masks: await maskFile('a.bin', masks[0]!), lmf: fr },
      { runId: 'run_b', label: 'mt:de-en', variant: 'wanda 50% mt:de-en', modelSha256: 'a'.repeat(64), masks: await maskFile('b.bin', masks[1]!), lmf: de },
      // Same pair as run_a: its report adds no LMF label.
      { runId: 'run_c', label: 'mono:fr-en', variant: 'wanda 50% mono:fr-en', modelSha256: null, masks: await maskFile('c.bin', masks[2]!), lmf: fr },
    ];
    const progress: number[] = [];
    const a = await analyzeMasks(runs, { onProgress: (d) => progress.push(d) });
    expect(progress).toEqual([1, 2, 3, 4]);
    expect(a.modelSha256).toBe('a'.repeat(64));
    expect(a.runs.map((r) => r.label)).toEqual(['mt:fr-en', 'mt:de-en', 'mono:fr-en']);
    expect(a.pairs.map((p) => [p.a, p.b])).toEqual([
      [0, 1],
      [0, 2],
      [1, 2],
    ]);

    const m = a.matrices;
    for (let i = 0; i < 3; i++) {
      expect(m.jaccard[i]![i]).toBe(1);
      expect(m.rowsIdentical[i]![i]).toBe(1);
      for (let j = 0; j < 3; j++) {
        expect(m.jaccard[i]![j]).toBe(m.jaccard[j]![i]);
        if (i === j) continue;
        const want = plainOverall(masks[i]!, masks[j]!);
        expect(m.jaccard[i]![j]).toBeCloseTo(want.jaccard, 12);
        expect(m.rowsIdentical[i]![j]).toBeCloseTo(want.rowsIdentical, 12);
        // Every layer prunes half of each row on both sides: chance is 1/3.
        expect(m.jaccardChance[i]![j]).toBeCloseTo(1 / 3, 12);
      }
    }
    // run_c = run_a except block1.fc2: three of four layers identical.
    expect(a.pairs[1]!.layers.map((l) => l.jaccard)).toEqual([1, 1, 1, expect.any(Number)]);

    // LMF channels: the union of fr-en's and de-en's top-3 translation dimensions per block.
    const sets = [new Set([0, 1, 2, 9]), new Set([3, 4, 5, 10, 11])];
    expect(a.layers.map((l) => [l.id, l.lmfBlock, l.lmfChannels])).toEqual([
      ['block0.q', 0, 4],
      ['block0.fc2', null, null],
      ['block1.q', 0, 4],
      ['block1.fc2', null, null],
    ]);
    expect(m.lmfShare[0]![1]).toBeCloseTo(plainLmfShare(masks[0]!, masks[1]!, sets), 12);
    expect(m.lmfExpectedShare[0]![1]).toBeCloseTo(4 / DIM, 12);
    // run_a and run_c differ only in a layer without an LMF set.
    expect(m.lmfShare[0]![2]).toBeNull();
    expect(a.lmfNote).toBeNull();

    expect(a.lmf!.labels).toEqual(['fr-en', 'de-en']);
    expect(a.lmf!.runIds).toEqual(['run_a', 'run_b']);
    expect(a.lmf!.k).toBe(3);
    // {0,1,2} vs {0,1,9}: 2 shared of 4; {3,4,5} vs {3,10,11}: 1 of 5.
    expect(a.lmf!.blocks[0]!.translation[0]![1]).toBeCloseTo(2 / 4, 12);
    expect(a.lmf!.blocks[1]!.translation[0]![1]).toBeCloseTo(1 / 5, 12);
    expect(a.lmf!.mean.translation[0]![1]).toBeCloseTo((2 / 4 + 1 / 5) / 2, 12);
    expect(a.lmf!.mean.monolingual![1]![1]).toBe(1);
  });

  it('takes the first lmfTopK dimensions of each top list', async () => {
    const runs: AnalysisRunInput[] = [
      {
        runId: 'r1',
        label: 'a',
        variant: 'a',
        modelSha256: null,
        masks: await maskFile('k1.bin', runMasks(3)),
        lmf: report('fr-en', [loud([0, 1, 2]), loud([0, 1, 2])], 3),
      },
      {
        runId: 'r2',
        label: 'b',
        variant: 'b',
        modelSha256: null,
        masks: await maskFile('k2.bin', runMasks(4)),
        lmf: report('de-en', [loud([0, 5, 1]), loud([0, 5, 1])], 3),
      },
    ];
    const a = await analyzeMasks(runs, { lmfTopK: 1 });
    expect(a.lmf!.k).toBe(1);
    expect(a.layers[0]!.lmfChannels).toBe(1);
    expect(a.lmf!.blocks[0]!.translation[0]![1]).toBe(1);
  });

  it('says why there is no LMF comparison', async () => {
    const runs: AnalysisRunInput[] = [
      { runId: 'r1', label: 'magnitude', variant: 'magnitude 50%', modelSha256: null, masks: await maskFile('n1.bin', runMasks(5)) },
      { runId: 'r2', label: 'random', variant: 'random 50%', modelSha256: null, masks: await maskFile('n2.bin', runMasks(6)) },
    ];
    const a = await analyzeMasks(runs);
    expect(a.lmf).toBeNull();
    expect(a.lmfNote).toMatch(/none of the compared runs has an LMF report/);
    expect(a.matrices.lmfShare[0]![1]).toBeNull();
    expect(a.layers.every((l) => l.lmfBlock === null)).toBe(true);
  });

  it('refuses runs of different model bytes or layer shapes, naming them', async () => {
    const one = await maskFile('m1.bin', runMasks(7), 'a'.repeat(64));
    const other = await maskFile('m2.bin', runMasks(8), 'b'.repeat(64));
    await expect(
      analyzeMasks([
        { runId: 'r1', label: 'x', variant: 'x', modelSha256: null, masks: one },
        { runId: 'r2', label: 'y', variant: 'y', modelSha256: null, masks: other },
      ]),
    ).rejects.toThrow(/runs r1 and r2 pruned different model bytes/);
    const shapes = runMasks(9);
    shapes['block1.fc2'] = randomRows(FFN + 8, DIM, 4, 1);
    await expect(
      analyzeMasks([
        { runId: 'r1', label: 'x', variant: 'x', modelSha256: null, masks: one },
        { runId: 'r3', label: 'y', variant: 'y', modelSha256: null, masks: await maskFile('m3.bin', shapes) },
      ]),
    ).rejects.toThrow(/layer block1.fc2 is \[16×24\] in run r1 but \[16×32\] in run r3/);
    await expect(analyzeMasks([{ runId: 'r1', label: 'x', variant: 'x', modelSha256: null, masks: one }])).rejects.toThrow(/at least two/);
  });
});

describe('openMaskFile', () => {
  it('reads layers on demand and rejects a truncated or tampered file', async () => {
    const masks = runMasks(11);
    const bytes = writeMaskFile(Object.entries(masks).map(([id, keep]) => packPlain(id, keep)));
    const whole = path.join(tmp, 'whole.bin');
    await writeFile(whole, bytes);
    const r = await openMaskFile(whole);
    readers.push(r);
    expect(r.header.layers.map((l) => l.id)).toEqual(Object.keys(masks));
    expect([...(await r.layer('block1.q')).bits]).toEqual([...packPlain('block1.q', masks['block1.q']!).bits]);
    await expect(r.layer('block9.q')).rejects.toThrow(/no layer block9.q/);

    const cut = path.join(tmp, 'cut.bin');
    await writeFile(cut, bytes.subarray(0, bytes.length - 3));
    await expect(openMaskFile(cut)).rejects.toThrow(/runs past the end of the file/);

    const tampered = Uint8Array.from(bytes);
    tampered[tampered.length - 1]! ^= 1;
    const bad = path.join(tmp, 'bad.bin');
    await writeFile(bad, tampered);
    const rb = await openMaskFile(bad);
    readers.push(rb);
    await expect(rb.layer('block1.fc2')).rejects.toThrow(/kept weights, header says/);
  });
});
