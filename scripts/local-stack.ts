/**
 * `npm start`: the whole service on loopback — wrangler dev (local D1/R2 under .wrangler/state,
 * migrations applied) and one CPU runner — until Ctrl-C.
 *
 *   npm start -- [--port 8787] [--inspector-port N] [--persist-to DIR] [--runners N] [--var NAME:VALUE]...
 *
 * Every port is picked free unless named: the API takes 8787 when it is free (another free port
 * otherwise), wrangler's devtools a free one, so that two stacks (a bench beside `npm start`, two
 * checkouts) run side by side. The banner says which.
 */
import { parseArgs } from 'node:util';
import { killGroup, portInUse, startStack } from './lib/stack';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'inspector-port': { type: 'string' },
    'persist-to': { type: 'string' },
    runners: { type: 'string', default: '1' },
    var: { type: 'string', multiple: true, default: [] },
    quiet: { type: 'boolean', default: false },
  },
});

const vars: Record<string, string> = {};
for (const v of values.var ?? []) {
  const i = v.indexOf(':');
  if (i < 1) {
    console.error(`--var expects NAME:VALUE, got "${v}"`);
    process.exit(2);
  }
  vars[v.slice(0, i)] = v.slice(i + 1);
}

const say = (s: string) => console.log(`[polyprune] ${s}`);
say(`node ${process.version}`);
// A named port is taken as given (and refused when busy); the usual 8787 gives way to a free one.
const port = values.port !== undefined ? Number(values.port) : (await portInUse(8787)) ? 'auto' : 8787;
if (port === 'auto') say('port 8787 is in use (another stack?): taking a free one');
const stack = await startStack({
  port,
  inspectorPort: values['inspector-port'] === undefined ? undefined : Number(values['inspector-port']),
  // `--var ADMIN_TOKEN:…` replaces the token of .dev.vars for the worker and the runner token alike.
  adminToken: vars.ADMIN_TOKEN,
  persistTo: values['persist-to'],
  runners: Number(values.runners),
  vars,
  log: values.quiet ? undefined : say,
  runnerLog: values.quiet ? undefined : (l) => console.log(l),
}).catch((err: Error) => {
  console.error(`[polyprune] could not start: ${err.message}`);
  process.exit(1);
});

console.log(`
  polyprune is up
    API          ${stack.url}/v1  (OpenAPI: ${stack.url}/v1/openapi.json)
    ports        API ${stack.ports.api}, wrangler inspector ${stack.ports.inspector}  (--port, --inspector-port to choose)
    admin token  ${stack.adminToken}   (from .dev.vars)
    runners      ${stack.runners.length} on the CPU
  Try:  curl -H "Authorization: Bearer ${stack.adminToken}" ${stack.url}/v1/models
        npm run demo
  Ctrl-C stops everything.
`);

// Ctrl-C reaches this process twice (from the terminal and relayed by npm), and never the runners:
// they run in process groups of their own, so that they hear only what is decided here.
// First signal: each runner finishes its step and hands its job back, however long the step takes.
// A second one (a few seconds later): the runners interrupt their step. A third: kill.
let stopping = 0;
let lastSignalAt = 0;
const shutdown = async (sig: string) => {
  const now = Date.now();
  if (stopping && now - lastSignalAt < 3000) return;
  lastSignalAt = now;
  stopping++;
  if (stopping === 2) {
    say(`${sig} again: runners interrupt their current step (once more kills them)`);
    for (const r of stack.runners) killGroup(r.child, 'SIGTERM');
    return;
  }
  if (stopping > 2) {
    say(`${sig} a third time: killing the runners`);
    for (const r of stack.runners) killGroup(r.child, 'SIGKILL');
    return;
  }
  say(`${sig}: runners finish their current step and hand their jobs back; then wrangler stops (Ctrl-C again to hurry)`);
  await stack.stop({ runnerGraceMs: 24 * 3600_000 });
  say('stopped');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
// A runner that dies on its own is not restarted; say so, since the queue then stalls.
for (const r of stack.runners) {
  void r.exited.then((code) => {
    if (!stopping) say(`runner exited with ${code}; the queue waits until it is restarted (npm start again)`);
  });
}
