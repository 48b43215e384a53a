/**
 * `npm run bench`: every benchmark in one process, each printing ratios measured side by side in
 * the same run (no absolute timings are compared across machines). Pick some with
 * `npm run bench -- masks evaluate`; `--device webgpu` (calibration, evaluate) measures that device
 * next to CPU (bench/device.ts).
 */
const suites: Record<string, () => Promise<{ run: () => Promise<void> }>> = {
  masks: () => import('./masks'),
  calibration: () => import('./calibration'),
  sparsegpt: () => import('./sparsegpt'),
  evaluate: () => import('./evaluate'),
  // Not in the default set: builds the scale bench's XGLM-564M (2.1 GB) and scores XNLI rows on it (minutes).
  scoring: () => import('./scoring'),
  // Not in the default set: needs python with torch; builds a 1.3 GB model in torch, runs both sides (minutes).
  peer: () => import('./peer'),
  // Not in the default set: builds ~7 GB of models and runs them end to end (tens of minutes).
  scale: () => import('./scale/index'),
  // Not in the default set: starts wrangler dev and loads it for ~50 s.
  api: () => import('./api'),
  // Not in the default set: starts wrangler dev, 50 simulated runners on the lease route (~40 s).
  lease: () => import('./lease'),
  // Not in the default set: starts two wrangler devs, moves a 128 MiB file through each hop of an upload and a download (--mib N, --2gib, ~2 min).
  transfer: () => import('./transfer'),
  // Not in the default set: starts a trivial Worker in wrangler dev once per route and sends it 95 MiB twice (~1.5 min).
  'workerd-growth': () => import('./workerd-growth'),
  // Not in the default set: seeds 100,000 score rows into a local D1 and times the boards (~1–2 min).
  'board-scale': () => import('./board-scale'),
};

// Flags that take a value (`--models a,b`, `--reps 3`): their values are not benchmark names.
const VALUE_FLAGS = new Set([
  '--models',
  '--reps',
  '--layers',
  '--modes',
  '--memory-limit',
  '--seconds',
  '--rounds',
  '--connections',
  '--jobs',
  '--mib',
  '--parallel',
  '--device',
  '--rows',
  '--threads',
  '--routes',
  '--baseline',
  '--reference-sums',
]);
const args = process.argv.slice(2);
const wanted = args.filter((a, i) => !a.startsWith('-') && !VALUE_FLAGS.has(args[i - 1] ?? ''));
const unknown = wanted.filter((w) => !(w in suites));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}
console.log(`bench on node ${process.version}`);
for (const name of wanted.length
  ? wanted
  : Object.keys(suites).filter((s) => !['scale', 'scoring', 'peer', 'api', 'lease', 'transfer', 'board-scale', 'workerd-growth'].includes(s))) {
  console.log(`\n=== bench: ${name} ===`);
  const t0 = performance.now();
  await (await suites[name]!()).run();
  console.log(`(${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
export {};
