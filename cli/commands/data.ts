import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { apiFor, emit, UsageError } from '../context';

async function read(file: string): Promise<Uint8Array> {
  if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
  return new Uint8Array(await readFile(file));
}

export function registerData(program: Command) {
  program
    .command('corpora')
    .description('bilingual calibration corpora')
    .command('upload')
    .description('upload sentence pairs (TSV src<TAB>tgt, or JSONL {src, tgt})')
    .argument('<file>')
    .requiredOption('--src <lang>', 'BCP-47 tag of the first column, e.g. fr')
    .requiredOption('--tgt <lang>', 'BCP-47 tag of the second column, e.g. en')
    .option('--format <format>', 'tsv | jsonl (sniffed when omitted)')
    .option('--name <name>')
    .option('--public', 'visible to everyone', false)
    .option('--skip-bad-lines', 'keep the good lines instead of rejecting the file', false)
    .action(
      async (file: string, o: { src: string; tgt: string; format?: 'tsv' | 'jsonl'; name?: string; public: boolean; skipBadLines: boolean }, cmd: Command) => {
        const api = await apiFor(cmd);
        const c = await api.uploadCorpus(await read(file), {
          src: o.src,
          tgt: o.tgt,
          format: o.format,
          name: o.name,
          visibility: o.public ? 'public' : 'private',
          onError: o.skipBadLines ? 'skip' : 'reject',
        });
        emit(cmd, c, () => `corpus ${c.id}: ${c.stats.pairsKept} pairs (${c.src}→${c.tgt}), ${c.stats.duplicates} duplicates dropped`);
      },
    );

  program
    .command('suites')
    .description('evaluation suites')
    .command('upload')
    .description('upload an evaluation suite (JSONL rows of one format, one language)')
    .argument('<file>')
    .requiredOption('--format <format>', 'xnli | marc | pawsx | xcopa | xstorycloze | mc | ppl | mt')
    .requiredOption('--lang <lang>', 'BCP-47 tag')
    .option('--name <name>')
    .option('--public', 'visible to everyone', false)
    .option('--skip-bad-lines', 'keep the good lines instead of rejecting the file', false)
    .action(async (file: string, o: { format: string; lang: string; name?: string; public: boolean; skipBadLines: boolean }, cmd: Command) => {
      const api = await apiFor(cmd);
      const s = await api.uploadSuite(await read(file), {
        format: o.format,
        lang: o.lang,
        name: o.name,
        visibility: o.public ? 'public' : 'private',
        onError: o.skipBadLines ? 'skip' : 'reject',
      });
      emit(cmd, s, () => `suite ${s.id}: ${s.stats.rowsKept} ${s.format} rows (${s.lang})`);
    });
}
