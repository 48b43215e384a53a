import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { apiFor, emit, num } from '../context';
import type { AnalysisSummary } from '@polyprune/shared/api/analysis';
import type { BoardQuery } from '../api';
import { UsageError } from '../context';
import { renderAnalysis, renderLeaderboard, renderMethods, renderSparsity, renderTable } from '../table';

export function registerResults(program: Command) {
  program
    .command('leaderboard')
    .description('variants × suites with n, Δ vs dense and significance; without --model every visible model; --view sparsity | methods for the other views')
    .option('--model <id>', 'one model (required for --view sparsity)')
    .option('--format <format>', 'suite format, e.g. mc, xnli, ppl, mt')
    .option('--suite <id>', 'one suite (split) only')
    .option('--lang <codes>', 'language(s), comma-separated')
    .option('--metric <metric>', 'acc | acc_norm | f1 | ppl | chrf | bleu | rankc | rankc_asc (default: the format’s own: ppl for ppl, chrf for mt, else acc)')
    .option('--scoring <scoring>', 'paper | harness', 'paper')
    .option('--sparsity <p>', 'pruned rows of this sparsity only', num('--sparsity'))
    .option('--method <method>')
    .option('--pair <pair>', 'calibration pair, e.g. fr-en')
    .option('--view <view>', 'board | sparsity | methods', 'board')
    .action(async (o: BoardQuery & { view: string }, cmd: Command) => {
      const api = await apiFor(cmd);
      const { view, ...q } = o;
      if (view === 'sparsity') {
        if (!q.model) throw new UsageError('--view sparsity needs --model <id>');
        const v = await api.sparsityView({ ...q, model: q.model });
        return emit(cmd, v, () => renderSparsity(v));
      }
      if (view === 'methods') {
        const m = await api.methodSummary(q);
        return emit(cmd, m, () => renderMethods(m));
      }
      if (view !== 'board') throw new UsageError(`--view must be board, sparsity or methods, not ${view}`);
      const board = await api.leaderboard(q);
      const page = q.model
        ? api.leaderboardPageUrl(q.model, q.format ? { format: q.format } : {})
        : api.acrossModelsPageUrl(q.format ? { format: q.format } : {});
      emit(cmd, board, () => `${renderLeaderboard(board)}\n\n${page}`);
    });

  const runs = program.command('runs').description('results of finished jobs');
  runs
    .command('get')
    .argument('<runId>')
    .action(async (id: string, _o, cmd: Command) => {
      const run = await (await apiFor(cmd)).getRun(id);
      if (run.kind === 'analyze')
        return emit(cmd, run, () => `run ${run.id} (${run.variant}) of job ${run.jobId}\n${renderAnalysis(run.extra.analysis as AnalysisSummary)}`);
      emit(cmd, run, () =>
        [
          `run ${run.id} (${run.variant}) of job ${run.jobId}; sparsity ${run.overallSparsity ?? '–'}`,
          renderTable(
            ['suite', 'lang', 'scoring', 'metric', 'value', 'n'],
            run.scores.map((s) => [s.suiteId, s.lang, s.scoring, s.metric, s.value.toFixed(4), String(s.n)]),
          ),
          `artifacts: ${run.artifacts.map((a) => a.name).join(', ') || 'none'}`,
        ].join('\n'),
      );
    });
  runs
    .command('list')
    .option('--model <id>')
    .option('--kind <kind>', 'prune | evaluate | analyze')
    .option('--limit <n>', 'page size', num('--limit'))
    .action(async (o: { model?: string; kind?: 'prune' | 'evaluate' | 'analyze'; limit?: number }, cmd: Command) => {
      const page = await (await apiFor(cmd)).listRuns(o);
      emit(cmd, page, () =>
        renderTable(
          ['id', 'kind', 'variant', 'sparsity', 'created'],
          page.items.map((r) => [r.id, r.kind, r.variant, r.overallSparsity === null ? '' : r.overallSparsity.toFixed(4), r.createdAt]),
        ),
      );
    });
  runs
    .command('download')
    .description('save artifacts of a run (all unless --artifact is given)')
    .argument('<runId>')
    .option('--artifact <name...>', 'only these artifacts')
    .option('--out <dir>', 'target directory', '.')
    .action(async (id: string, o: { artifact?: string[]; out: string }, cmd: Command) => {
      const api = await apiFor(cmd);
      const run = await api.getRun(id);
      const names = o.artifact ?? run.artifacts.map((a) => a.name);
      const dir = path.resolve(o.out);
      await mkdir(dir, { recursive: true });
      const saved: Array<{ name: string; file: string; size: number }> = [];
      for (const name of names) {
        const bytes = await api.runArtifact(id, name);
        const file = path.join(dir, name);
        await writeFile(file, bytes);
        saved.push({ name, file, size: bytes.byteLength });
      }
      emit(cmd, saved, () => saved.map((s) => `${s.file}  ${s.size} B`).join('\n'));
    });
}
