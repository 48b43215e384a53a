/**
 * `polyprune` — the command line of the polyprune API. Exit codes: 0 ok, 1 the API refused or
 * failed (or a watched job did not succeed), 2 wrong usage.
 */
import { Command, CommanderError } from 'commander';
import { ApiRequestError, UnreachableError } from '@polyprune/shared/http';
import { registerAnalyze } from './commands/analyze';
import { registerData } from './commands/data';
import { registerJobs } from './commands/jobs';
import { registerLogin } from './commands/login';
import { registerModels } from './commands/models';
import { registerResults } from './commands/results';
import { registerTokens } from './commands/tokens';
import { EXIT, UsageError } from './context';

export function buildProgram(): Command {
  const program = new Command('polyprune')
    .description('Prune multilingual decoder LMs for language pairs and rank the results')
    .version(`0.1.0 (node ${process.version})`)
    .option('--url <url>', 'API base URL (default: POLYPRUNE_URL, the login file, or http://127.0.0.1:8787)')
    .option('--token <token>', 'API token (default: POLYPRUNE_TOKEN or the login file)')
    .option('--json', 'machine-readable output on stdout')
    .showHelpAfterError()
    .exitOverride();
  registerLogin(program);
  registerModels(program);
  registerData(program);
  registerJobs(program);
  registerAnalyze(program);
  registerResults(program);
  registerTokens(program);
  // Subcommands inherit exitOverride only when set on each of them.
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) c.exitOverride();
  return program;
}

export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here too, successfully.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`polyprune: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof ApiRequestError) {
      process.stderr.write(`polyprune: ${err.message}\n`);
      if (err.details !== undefined) process.stderr.write(`${JSON.stringify(err.details, null, 2)}\n`);
      return EXIT.api;
    }
    if (err instanceof UnreachableError) {
      process.stderr.write(`polyprune: cannot reach the API: ${err.message}\n`);
      return EXIT.api;
    }
    process.stderr.write(`polyprune: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.api;
  }
}

process.exitCode = await run(process.argv);
