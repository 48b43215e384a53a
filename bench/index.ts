/**
 * `npm run bench`: every benchmark in one process, each printing ratios measured side by side in
 * the same run (no absolute timings are compared across machines). Pick some with
 * `npm run bench -- masks evaluate`.
 */
const suites: Record<string, () => Promise<{ run: () => Promise<void> }>> = {
  masks: () => import('./masks'),
  calibration: () => import('./calibration'),
  evaluate: () => import('./evaluate'),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = wanted.filter((w) => !(w in suites));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}
console.log(`bench on node ${process.version}`);
for (const name of wanted.length ? wanted : Object.keys(suites)) {
  console.log(`\n=== bench: ${name} ===`);
  const t0 = performance.now();
  await (await suites[name]!()).run();
  console.log(`(${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
export {};
