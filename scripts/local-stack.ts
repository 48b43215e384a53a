/**
 * `npm start`: the whole service on loopback — wrangler dev (local D1/R2 under .wrangler/state,
 * migrations applied) and one CPU runner — until Ctrl-C.
 *
 *   npm start -- [--port 8787] [--persist-to DIR] [--runners N] [--var NAME:VALUE]...
 */
import { parseArgs } from 'node:util';
import { startStack } from './lib/stack';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8787' },
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
const stack = await startStack({
  port: Number(values.port),
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
    admin token  ${stack.adminToken}   (from .dev.vars)
    runners      ${stack.runners.length} on the CPU
  Try:  curl -H "Authorization: Bearer ${stack.adminToken}" ${stack.url}/v1/models
        npm run demo
  Ctrl-C stops everything.
`);

let stopping = false;
const shutdown = async (sig: string) => {
  if (stopping) return;
  stopping = true;
  say(`${sig}: stopping runners and wrangler…`);
  await stack.stop();
  say('stopped');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
// A runner that dies on its own is restarted: the stack is meant to stay up.
for (const r of stack.runners) {
  void r.exited.then((code) => {
    if (!stopping) say(`runner exited with ${code}; the queue waits until it is restarted (npm start again)`);
  });
}
