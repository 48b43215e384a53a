import type { Command } from 'commander';
import type { Scope } from '@polyprune/shared/api/common';
import { apiFor, collect, emit } from '../context';

export function registerTokens(program: Command) {
  program
    .command('tokens')
    .description('API tokens (needs an admin token)')
    .command('create')
    .description('create a token; its secret is shown once (e.g. --scope runner for a GPU host)')
    .requiredOption('--owner <owner>', 'who the token acts as')
    .requiredOption('--scope <scope>', 'read | write | admin | runner (repeatable)', collect, [])
    .option('--name <name>')
    .action(async (o: { owner: string; scope: Scope[]; name?: string }, cmd: Command) => {
      const api = await apiFor(cmd);
      const t = await api.createToken({ owner: o.owner, scopes: o.scope, ...(o.name ? { name: o.name } : {}) });
      emit(cmd, t, () => `token ${t.id} (${t.scopes.join(', ')}):\n${t.secret}\n(shown once; store it now)`);
    });
}
