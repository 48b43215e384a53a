import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { ApiRequestError } from '@polyprune/shared/http';
import type { CorpusUploadQuery } from '../api';
import { apiFor, emit, UsageError } from '../context';
import { renderTable } from '../table';

async function read(file: string): Promise<Uint8Array> {
  if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
  return new Uint8Array(await readFile(file));
}

/** The corpus files given: one file, or both sides of a parallel corpus (never both ways, never one side). */
function corpusFiles(file?: string, srcFile?: string, tgtFile?: string): { file: string } | { srcFile: string; tgtFile: string } {
  const either = 'give either one <file> or --src-file and --tgt-file';
  if (srcFile !== undefined || tgtFile !== undefined) {
    if (srcFile === undefined || tgtFile === undefined) throw new UsageError('give both --src-file and --tgt-file');
    if (file !== undefined) throw new UsageError(either);
    return { srcFile, tgtFile };
  }
  if (file === undefined) throw new UsageError(either);
  return { file };
}

export function registerData(program: Command) {
  const corpora = program.command('corpora').description('bilingual calibration corpora');
  corpora
    .command('list')
    .description('corpora you can use: id, pair, pairs kept')
    .action(async (_o, cmd: Command) => {
      const page = await (await apiFor(cmd)).listCorpora();
      emit(cmd, page, () =>
        renderTable(
          ['id', 'name', 'pair', 'pairs', 'visibility', 'created'],
          page.items.map((c) => [c.id, c.name, `${c.src}-${c.tgt}`, String(c.stats.pairsKept), c.visibility, c.createdAt.slice(0, 10)]),
          ['left', 'left', 'left', 'right', 'left', 'left'],
        ),
      );
    });
  corpora
    .command('upload')
    .description('upload sentence pairs: one TSV / JSONL file, or two line-aligned files with --src-file and --tgt-file')
    .argument('[file]', 'TSV src<TAB>tgt, JSONL {src, tgt} or hub JSONL {"translation": {…}}')
    .requiredOption('--src <lang>', 'language of the source side: fr, fra or fra_Latn')
    .requiredOption('--tgt <lang>', 'language of the target side: en, eng or eng_Latn')
    .option('--src-file <path>', 'source side, one sentence per line (e.g. FLORES fra_Latn.devtest)')
    .option('--tgt-file <path>', 'target side, line-aligned with --src-file (e.g. eng_Latn.devtest)')
    .option('--format <format>', 'tsv | jsonl (sniffed when omitted)')
    .option('--name <name>')
    .option('--public', 'visible to everyone', false)
    .option('--skip-bad-lines', 'keep the good lines instead of rejecting the file', false)
    .option('--strict', 'refuse control characters instead of stripping them', false)
    .action(
      async (
        file: string | undefined,
        o: {
          src: string;
          tgt: string;
          srcFile?: string;
          tgtFile?: string;
          format?: 'tsv' | 'jsonl';
          name?: string;
          public: boolean;
          skipBadLines: boolean;
          strict: boolean;
        },
        cmd: Command,
      ) => {
        const source = corpusFiles(file, o.srcFile, o.tgtFile);
        const api = await apiFor(cmd);
        const q: Omit<CorpusUploadQuery, 'format'> = {
          src: o.src,
          tgt: o.tgt,
          name: o.name,
          visibility: o.public ? 'public' : 'private',
          onError: onError(o),
        };
        const c = await withFlagHints(
          'file' in source
            ? api.uploadCorpus(await read(source.file), { ...q, format: o.format })
            : api.uploadParallelCorpus(
                { filename: basename(source.srcFile), bytes: await read(source.srcFile) },
                { filename: basename(source.tgtFile), bytes: await read(source.tgtFile) },
                q,
              ),
        );
        emit(
          cmd,
          c,
          () =>
            `corpus ${c.id}: ${c.stats.pairsKept} pairs (${c.src}→${c.tgt}, read as ${c.stats.format}), ${c.stats.duplicates} duplicates dropped${notes(c.stats)}`,
        );
      },
    );

  const suites = program.command('suites').description('evaluation suites');
  suites
    .command('list')
    .description('suites you can evaluate on: id, name, format, language, rows')
    .action(async (_o, cmd: Command) => {
      const page = await (await apiFor(cmd)).listSuites();
      emit(cmd, page, () =>
        renderTable(
          ['id', 'name', 'format', 'lang', 'task', 'rows', 'visibility'],
          page.items.map((x) => [x.id, x.name, x.format, x.lang, x.task, String(x.stats.rowsKept), x.visibility]),
          ['left', 'left', 'left', 'left', 'left', 'right', 'left'],
        ),
      );
    });
  suites
    .command('upload')
    .description('upload an evaluation suite of one format and language, as published (JSONL, TSV or CSV; sniffed)')
    .argument('<file>')
    .requiredOption('--format <format>', 'xnli | marc | pawsx | xcopa | xstorycloze | mc | ppl | mt')
    .requiredOption('--lang <lang>', 'language: fr, fra or fra_Latn')
    .option('--name <name>')
    .option('--task <task>', 'the task this suite is one language of (default: its name); parallel suites of one task get RankC')
    .option('--public', 'visible to everyone', false)
    .option('--skip-bad-lines', 'keep the good lines instead of rejecting the file', false)
    .option('--strict', 'refuse control characters instead of stripping them', false)
    .option('--dedupe', 'drop exact duplicate rows (kept by default, as in the published counts)', false)
    .option('--subset <n>', 'keep a seeded subset of n rows, stratified by label', (v) => Number.parseInt(v, 10))
    .option('--seed <s>', 'seed of --subset (default 0)', (v) => Number.parseInt(v, 10))
    .action(
      async (
        file: string,
        o: {
          format: string;
          lang: string;
          name?: string;
          task?: string;
          public: boolean;
          skipBadLines: boolean;
          strict: boolean;
          dedupe: boolean;
          subset?: number;
          seed?: number;
        },
        cmd: Command,
      ) => {
        const api = await apiFor(cmd);
        const s = await withFlagHints(
          api.uploadSuite(await read(file), {
            format: o.format,
            lang: o.lang,
            name: o.name,
            ...(o.task !== undefined ? { task: o.task } : {}),
            visibility: o.public ? 'public' : 'private',
            onError: onError(o),
            ...(o.dedupe ? { dedupe: 'true' } : {}),
            ...(o.subset !== undefined ? { subset: o.subset } : {}),
            ...(o.seed !== undefined ? { seed: o.seed } : {}),
          }),
        );
        const sub = s.stats.subset ? `, subset ${s.stats.subset.n} of ${s.stats.subset.of} (seed ${s.stats.subset.seed})` : '';
        emit(
          cmd,
          s,
          () => `suite ${s.id}: ${s.stats.rowsKept} ${s.format} rows (${s.lang}, task ${s.task}, read as ${s.stats.recognised.input})${sub}${notes(s.stats)}`,
        );
      },
    );
}

function onError(o: { skipBadLines: boolean; strict: boolean }): 'reject' | 'skip' | undefined {
  if (o.skipBadLines && o.strict) throw new UsageError('--skip-bad-lines and --strict exclude each other');
  return o.skipBadLines ? 'skip' : o.strict ? 'reject' : undefined;
}

/**
 * The API's refusal of bad lines tells an HTTP client to pass `?onError=skip`; someone at the
 * command line needs the flag that sets it instead.
 */
export async function withFlagHints<T>(upload: Promise<T>): Promise<T> {
  try {
    return await upload;
  } catch (err) {
    if (!(err instanceof ApiRequestError) || err.code !== 'invalid_lines') throw err;
    const reasons = new Set(((err.details as { problems?: { reason: string }[] } | undefined)?.problems ?? []).map((p) => p.reason));
    // One cause with its own fix (spaces for tabs): nothing to skip.
    if (reasons.size === 1 && reasons.has('spaces_not_tabs')) throw err;
    // Only --strict refuses control characters; without it they are stripped and the lines kept.
    if (reasons.size === 1 && reasons.has('control_chars')) {
      const said = err.message.slice(`${err.status} ${err.code}: `.length).replace(/\. Fix them, or upload without onError=reject.*$/, '');
      throw new ApiRequestError(
        err.status,
        err.code,
        `${said}. Fix them, or rerun without --strict: control characters are then stripped (counted in the summary) and the lines kept`,
        err.details,
      );
    }
    const said = err.message.slice(`${err.status} ${err.code}: `.length).replace(/[.;]?\s*[^.;]*onError=skip[^.;]*\.?$/, '');
    throw new ApiRequestError(err.status, err.code, `${said}. Fix them, or rerun with --skip-bad-lines to keep the good lines`, err.details);
  }
}

/** What the upload changed or doubts, said in the one-line summary. */
function notes(stats: { controlChars: { count: number }; warnings: { message: string }[]; placeholders?: number }): string {
  const out: string[] = [];
  if (stats.controlChars.count) out.push(`${stats.controlChars.count} control characters stripped`);
  if (stats.placeholders) out.push(`${stats.placeholders} placeholder rows dropped`);
  for (const w of stats.warnings) out.push(`warning: ${w.message}`);
  return out.length ? `; ${out.join('; ')}` : '';
}
