import { existsSync, realpathSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { limits } from '@polyprune/shared/api/limits';
import type { ModelFamily } from '@polyprune/shared/api/models';
import type { ModelInfo } from '../api';
import { apiFor, emit, UsageError } from '../context';
import { bar } from '../progress';
import { renderTable } from '../table';
import { isGraphName } from '@polyprune/shared/model-files';

const STORABLE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Never part of an export: OS and VCS droppings, editor backups. */
const isJunk = (name: string) => name.startsWith('.') || name.endsWith('~') || ['Thumbs.db', 'desktop.ini'].includes(name);

/** Every regular file of an export folder as it is (symlinks followed: the Hugging Face cache links to blobs). */
async function folderFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir) || !(await stat(dir)).isDirectory()) throw new UsageError(`not a directory: ${dir}`);
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (isJunk(name)) continue;
    const full = path.join(dir, name);
    if ((await stat(full)).isFile()) out.push(full);
  }
  if (!out.length) throw new UsageError(`no files in ${dir}`);
  return out;
}

/** Files from --upload/arguments and --dir, checked before anything is sent; graphs first, so a bad one fails before GBs of weights go up. */
async function filesToUpload(files: string[], dirs: string[]): Promise<string[]> {
  for (const f of files) if (!existsSync(f)) throw new UsageError(`no such file: ${f}`);
  const all = [...files];
  for (const d of dirs) all.push(...(await folderFiles(d)));
  const seen = new Map<string, string>();
  for (const f of all) {
    const name = path.basename(f);
    if (!STORABLE.test(name)) throw new UsageError(`cannot store "${name}": a file name of letters, digits, . _ - is needed`);
    const prior = seen.get(name);
    if (prior && realpathSync(prior) !== realpathSync(f)) throw new UsageError(`two files named ${name}: ${prior} and ${f}`);
    seen.set(name, f);
  }
  return [...seen.values()].sort((a, b) => Number(isGraphName(b)) - Number(isGraphName(a)));
}

/** graph, missing and problems of a model, for people. */
export function modelStatusText(m: ModelInfo): string {
  const lines = [`model ${m.id}: graph ${m.graph ?? '(none)'}, ${m.complete ? 'complete' : 'incomplete'}`];
  if (m.missing.length) lines.push(`missing: ${m.missing.join(', ')}`, ...m.hints.map((h) => `  ${h}`));
  if (m.problems.length) lines.push('problems:', ...m.problems.map((p) => `  - ${p}`));
  return lines.join('\n');
}

export function registerModels(program: Command) {
  const models = program.command('models').description('ONNX decoder models');

  models
    .command('create')
    .description('register a model (then upload its files)')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--family <family>', 'xglm | bloom | gpt2 | mgpt | llama | other')
    .option('--license <license>')
    .option('--public', 'visible to everyone', false)
    .option('--upload <files...>', 'files to upload right away (the graph, its external data, tokenizer.json, config.json, …)')
    .option('--dir <dirs...>', 'upload every file of an export folder as it is (e.g. the onnx/ folder and the one with tokenizer.json)')
    .action(async (o: { name: string; family: ModelFamily; license?: string; public: boolean; upload?: string[]; dir?: string[] }, cmd: Command) => {
      const api = await apiFor(cmd);
      const files = await filesToUpload(o.upload ?? [], o.dir ?? []);
      const m = await api.createModel({ name: o.name, family: o.family, license: o.license, visibility: o.public ? 'public' : 'private' });
      for (const f of files) await uploadOne(api, m.id, f, cmd);
      const after = files.length ? await api.getModel(m.id) : m;
      emit(
        cmd,
        after,
        () => `model ${after.id} created${after.files.length ? ` with ${after.files.map((x) => x.name).join(', ')}` : ''}\n${modelStatusText(after)}`,
      );
    });

  models
    .command('upload')
    .description(`upload files of a model under their own names (multipart above ${limits.singlePutBytes / 2 ** 20} MB)`)
    .argument('<modelId>')
    .argument('[files...]')
    .option('--dir <dirs...>', 'upload every file of these export folders')
    .option('--name <name>', 'store a single file under this name')
    .action(async (modelId: string, given: string[], o: { name?: string; dir?: string[] }, cmd: Command) => {
      if (!given.length && !o.dir?.length) throw new UsageError('name files to upload, or --dir <folder>');
      if (o.name && (given.length !== 1 || o.dir?.length)) throw new UsageError('--name works with one file only');
      const files = o.name ? given : await filesToUpload(given, o.dir ?? []);
      const [named] = files;
      if (o.name && (named === undefined || !existsSync(named))) throw new UsageError(`no such file: ${named}`);
      const api = await apiFor(cmd);
      const out: Array<{ name: string; size: number; sha256: string }> = [];
      for (const f of files) out.push(await uploadOne(api, modelId, f, cmd, o.name));
      const m = await api.getModel(modelId);
      emit(cmd, { uploaded: out, model: m }, () => `${out.map((u) => `${u.name}  ${u.size} B  sha256 ${u.sha256}`).join('\n')}\n${modelStatusText(m)}`);
    });

  models
    .command('graph')
    .description('choose the graph among the uploaded *.onnx files ("auto": by name again)')
    .argument('<modelId>')
    .argument('<file>')
    .action(async (id: string, file: string, _o, cmd: Command) => {
      const api = await apiFor(cmd);
      const m = await api.patchModel(id, { graph: file === 'auto' ? null : file });
      emit(cmd, m, () => modelStatusText(m));
    });

  models.command('list').action(async (_o, cmd: Command) => {
    const api = await apiFor(cmd);
    const page = await api.listModels();
    emit(cmd, page, () =>
      renderTable(
        ['id', 'name', 'family', 'visibility', 'graph', 'complete'],
        page.items.map((m) => [m.id, m.name, m.family, m.visibility, m.graph ?? '-', m.complete ? (m.problems.length ? 'yes (problems)' : 'yes') : 'no']),
      ),
    );
  });

  models
    .command('get')
    .argument('<modelId>')
    .action(async (id: string, _o, cmd: Command) => {
      const api = await apiFor(cmd);
      emit(cmd, await api.getModel(id));
    });
}

async function uploadOne(api: Awaited<ReturnType<typeof apiFor>>, modelId: string, file: string, cmd: Command, name?: string) {
  const quiet = !!cmd.optsWithGlobals().json || !process.stderr.isTTY;
  const b = quiet ? null : bar(`${name ?? path.basename(file)}`);
  try {
    return await api.uploadModelFile(modelId, file, { name, onBytes: (done, total) => b?.update(done, total) });
  } finally {
    b?.stop();
  }
}
