#!/usr/bin/env node
// The CLI is TypeScript (cli/main.ts); tsx's loader runs it without a build step, as for the
// runner and the scripts. It runs on the Node pinned in package.json (devDependency "node"):
// `npx polyprune` and npm scripts find that one first on PATH; started any other way (say
// ./bin/polyprune.mjs with an older Node first on PATH), it hands itself over to the pinned one.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const pinnedNode = fileURLToPath(new URL('node_modules/.bin/node', root));
let pinned;
try {
  pinned = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).devDependencies?.node;
} catch {
  // not in the repository layout: run on whatever Node this is
}

if (pinned && process.version !== `v${pinned}` && existsSync(pinnedNode) && !process.env.POLYPRUNE_NODE_HANDOVER) {
  const child = spawn(pinnedNode, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, POLYPRUNE_NODE_HANDOVER: '1' },
  });
  // The child is in this terminal's process group and gets Ctrl-C itself; relay what only we get.
  process.on('SIGINT', () => {});
  for (const sig of ['SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (!signal) process.exit(code ?? 1);
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('@polyprune/cli/main');
}
