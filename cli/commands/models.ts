import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { SINGLE_PUT_LIMIT } from '../api';
import { apiFor, emit, UsageError } from '../context';
import { bar } from '../progress';
import { renderTable } from '../table';

export function registerModels(program: Command) {
  const models = program.command('models').description('ONNX decoder models');

  models
    .command('create')
    .description('register a model (then upload its files)')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--family <family>', 'xglm | bloom | gpt2 | mgpt | llama | other')
    .option('--license <license>')
    .option('--public', 'visible to everyone', false)
    .option('--upload <files...>', 'files to upload right away (model.onnx, its .data file, tokenizer.json, config.json)')
    .action(async (o: { name: string; family: string; license?: string; public: boolean; upload?: string[] }, cmd: Command) => {
      const api = await apiFor(cmd);
      for (const f of o.upload ?? []) if (!existsSync(f)) throw new UsageError(`no such file: ${f}`);
      const m = await api.createModel({ name: o.name, family: o.family, license: o.license, visibility: o.public ? 'public' : 'private' });
      for (const f of o.upload ?? []) await uploadOne(api, m.id, f, cmd);
      const after = o.upload?.length ? await api.getModel(m.id) : m;
      emit(cmd, after, () => `model ${after.id} created${after.files.length ? ` with ${after.files.map((x) => x.name).join(', ')}` : ''}`);
    });

  models
    .command('upload')
    .description(`upload files of a model (multipart above ${SINGLE_PUT_LIMIT / 2 ** 20} MB)`)
    .argument('<modelId>')
    .argument('<files...>')
    .option('--name <name>', 'store a single file under this name')
    .action(async (modelId: string, files: string[], o: { name?: string }, cmd: Command) => {
      for (const f of files) if (!existsSync(f)) throw new UsageError(`no such file: ${f}`);
      if (o.name && files.length > 1) throw new UsageError('--name works with one file only');
      const api = await apiFor(cmd);
      const out: Array<{ name: string; size: number; sha256: string }> = [];
      for (const f of files) out.push(await uploadOne(api, modelId, f, cmd, o.name));
      const m = await api.getModel(modelId);
      emit(
        cmd,
        { uploaded: out, model: m },
        () =>
          `${out.map((u) => `${u.name}  ${u.size} B  sha256 ${u.sha256}`).join('\n')}\nmodel ${m.id} ${m.complete ? 'is complete' : 'still needs model.onnx and tokenizer.json'}`,
      );
    });

  models.command('list').action(async (_o, cmd: Command) => {
    const api = await apiFor(cmd);
    const page = await api.listModels();
    emit(cmd, page, () =>
      renderTable(
        ['id', 'name', 'family', 'visibility', 'complete'],
        page.items.map((m) => [m.id, m.name, m.family, m.visibility, m.complete ? 'yes' : 'no']),
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
