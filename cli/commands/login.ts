import type { Command } from 'commander';
import { PolypruneApi } from '../api';
import { configPath, loadConfig, saveConfig } from '../config';
import { emit, UsageError } from '../context';

export function registerLogin(program: Command) {
  program
    .command('login')
    .description('store the API URL and a token in ~/.config/polyprune/config.json')
    .usage('--url <url> --token <token>')
    // --url and --token are the program's global options; login stores them.
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals() as { url?: string; token?: string };
      const prev = await loadConfig();
      const url = (g.url ?? process.env.POLYPRUNE_URL ?? prev.url ?? 'http://127.0.0.1:8787').replace(/\/+$/, '');
      const token = g.token ?? process.env.POLYPRUNE_TOKEN ?? prev.token;
      if (!token) throw new UsageError('login needs --token (or POLYPRUNE_TOKEN)');
      // Check the pair before storing it: a typo should fail here, not on the next command.
      const api = new PolypruneApi({ baseUrl: url, token, retry: { retries: 1 } });
      const health = await api.health();
      await api.listModels();
      await saveConfig({ url, token });
      emit(cmd, { url, configFile: configPath(), version: health.version }, () => `logged in to ${url} (API ${health.version}); saved to ${configPath()}`);
    });
}
