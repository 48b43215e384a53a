import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { leaseJob } from '../fixtures';
import { call, makeToken, sha256 } from '../helpers';
import { externalModel, graph, type Msg, model, node, tensor, tinyOnnx } from '../onnx-writer';

/** Exports as real exporters name and lay them out (docs/real-exports.md), uploaded unchanged. */
let writer: string;
let runner: string;
let suite: string;
beforeAll(async () => {
  writer = await makeToken('exports-owner', ['write']);
  runner = await makeToken('exports-runner', ['runner']);
  suite = (await call('POST', '/v1/suites?format=ppl&lang=de', { token: writer, body: 'Ein Satz.\n' })).body.id;
});

async function newModel(family = 'bloom') {
  const r = await call('POST', '/v1/models', { token: writer, json: { name: 'export', family } });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

const put = (id: string, name: string, body: BodyInit) => call('PUT', `/v1/models/${id}/files/${name}`, { token: writer, body });
const view = async (id: string) => (await call('GET', `/v1/models/${id}`, { token: writer })).body;
const evaluate = (id: string) => call('POST', '/v1/jobs', { token: writer, json: { kind: 'evaluate', modelId: id, suites: [suite] } });
const jobRows = async (id: string) => (await env.DB.prepare('SELECT COUNT(*) AS n FROM jobs WHERE model_id = ?').bind(id).first<{ n: number }>())!.n;

/** optimum's merged decoder: weights in the main graph (external), both steps as If branches. */
function mergedDecoder(branchOps: Msg[] = [node('MatMul', { inputs: ['h', 'w'], outputs: ['logits'] })]) {
  const branch = (name: string) => graph({ nodes: branchOps, inputs: [], outputs: [`${name}_logits`] });
  return model(
    graph({
      nodes: [node('If', { inputs: ['use_cache_branch'], outputs: ['logits'], graphs: { then_branch: branch('then'), else_branch: branch('else') } })],
      initializers: [tensor('model.decoder.embed_tokens.weight', { location: 'decoder_model_merged.onnx_data' })],
      inputs: ['input_ids', 'attention_mask', 'past_key_values.0.key', 'past_key_values.0.value', 'use_cache_branch'],
      outputs: ['logits', 'present.0.key', 'present.0.value'],
    }),
  );
}

describe('real exports uploaded unchanged', () => {
  it('optimum merged decoder: missing names its .onnx_data with the upload command until it is there', async () => {
    const id = await newModel();
    expect(await view(id)).toMatchObject({ graph: null, missing: ['*.onnx', 'tokenizer.json'], complete: false });
    expect((await put(id, 'decoder_model_merged.onnx', mergedDecoder())).status).toBe(201);
    expect((await put(id, 'tokenizer.json', '{"model":{}}')).status).toBe(201);
    let m = await view(id);
    expect(m).toMatchObject({ graph: 'decoder_model_merged.onnx', missing: ['decoder_model_merged.onnx_data'], problems: [], complete: false });
    expect(m.hints[0]).toContain(`npx polyprune models upload ${id} decoder_model_merged.onnx_data`);
    expect(m.hints[0]).toContain(`PUT /v1/models/${id}/files/decoder_model_merged.onnx_data`);

    const refused = await evaluate(id);
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'incomplete_model', details: { missing: ['decoder_model_merged.onnx_data'] } });
    expect(refused.body.error.message).toContain('decoder_model_merged.onnx_data');
    expect(await jobRows(id)).toBe(0);

    expect((await put(id, 'decoder_model_merged.onnx_data', new Uint8Array(64))).status).toBe(201);
    m = await view(id);
    expect(m).toMatchObject({ graph: 'decoder_model_merged.onnx', missing: [], problems: [], complete: true });
    expect((await evaluate(id)).status).toBe(201);
  });

  it('model builder: model.onnx + model.onnx.data and genai_config.json', async () => {
    const id = await newModel('llama');
    await put(id, 'model.onnx', externalModel('model.onnx.data', [node('GroupQueryAttention', { domain: 'com.microsoft' })]));
    await put(id, 'genai_config.json', '{}');
    await put(id, 'tokenizer.json', '{}');
    expect(await view(id)).toMatchObject({ graph: 'model.onnx', missing: ['model.onnx.data'], problems: [], complete: false });
    await put(id, 'model.onnx.data', new Uint8Array(16));
    expect(await view(id)).toMatchObject({ graph: 'model.onnx', missing: [], complete: true });
  });

  it('a single other *.onnx (model_fp16.onnx) is the graph; decoder_with_past_model.onnx alone is not', async () => {
    const fp16 = await newModel();
    await put(fp16, 'model_fp16.onnx', tinyOnnx());
    await put(fp16, 'tokenizer.json', '{}');
    expect(await view(fp16)).toMatchObject({ graph: 'model_fp16.onnx', complete: true });

    const past = await newModel();
    await put(past, 'decoder_with_past_model.onnx', tinyOnnx());
    await put(past, 'tokenizer.json', '{}');
    const m = await view(past);
    expect(m).toMatchObject({ graph: null, missing: ['*.onnx'], complete: false });
    expect(m.problems[0]).toMatch(/decoder_with_past_model\.onnx alone cannot run the first step/);
    // The plain decoder next to it is the graph.
    await put(past, 'decoder_model.onnx', tinyOnnx());
    expect(await view(past)).toMatchObject({ graph: 'decoder_model.onnx', problems: [], complete: true });
  });

  it('quantized graphs are reported (ops inside subgraphs too) and their jobs refused before any row is written', async () => {
    const id = await newModel();
    const q4 = node('MatMulNBits', { domain: 'com.microsoft', inputs: ['h', 'w_q4', 'scales'], outputs: ['logits'] });
    await put(id, 'decoder_model_merged.onnx', mergedDecoder([q4]));
    await put(id, 'decoder_model_merged.onnx_data', new Uint8Array(16));
    await put(id, 'tokenizer.json', '{}');
    const m = await view(id);
    expect(m.complete).toBe(true);
    expect(m.problems).toHaveLength(1);
    expect(m.problems[0]).toMatch(/decoder_model_merged\.onnx is quantized \(MatMulNBits\).*upload the fp32 or fp16 export/);
    const r = await evaluate(id);
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('unsupported_model');
    expect(r.body.error.message).toContain('MatMulNBits');
    expect(r.body.error.details.problems).toEqual(m.problems);
    const sweep = await call('POST', '/v1/sweeps', {
      token: writer,
      json: { modelId: id, pairs: [{ corpusId: 'cor_x' }], sparsities: [0.5], methods: [{ method: 'magnitude' }] },
    });
    expect(sweep.status).toBe(422);
    expect(await jobRows(id)).toBe(0);
  });

  it('a BeamSearch wrapper is named, with what to upload instead', async () => {
    const id = await newModel();
    const decoder = graph({ nodes: [node('MatMul', { inputs: ['h', 'w'], outputs: ['logits'] })] });
    const wrapped = model(
      graph({
        nodes: [node('BeamSearch', { domain: 'com.microsoft', inputs: ['input_ids'], outputs: ['sequences'], graphs: { decoder } })],
        outputs: ['sequences'],
      }),
    );
    await put(id, 'model.onnx', wrapped);
    await put(id, 'tokenizer.json', '{}');
    const m = await view(id);
    expect(m.problems).toHaveLength(1);
    expect(m.problems[0]).toMatch(/com\.microsoft:BeamSearch.*plain decoder/);
    expect((await evaluate(id)).body.error.code).toBe('unsupported_model');
  });

  it('refuses bytes that are not ONNX with invalid_onnx and records no file', async () => {
    const id = await newModel();
    for (const body of ['onnx-bytes', '{"not":"onnx"}', new Uint8Array([0x08, 0x08]), tinyOnnx().subarray(0, 40)]) {
      const r = await put(id, 'model.onnx', body);
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('invalid_onnx');
      expect(r.body.error.message).not.toContain('\n');
    }
    // Other files are not scanned.
    expect((await put(id, 'model.onnx_data', 'onnx-bytes')).status).toBe(201);
    expect((await view(id)).files.map((f: { name: string }) => f.name)).toEqual(['model.onnx_data']);
  });

  it('scans a multipart graph by R2 range reads and refuses an invalid one', async () => {
    const id = await newModel();
    const multipart = async (name: string, bytes: Uint8Array) => {
      const up = (await call('POST', `/v1/models/${id}/files/${name}/uploads`, { token: writer })).body.uploadId;
      await call('PUT', `/v1/models/${id}/files/${name}/uploads/${up}/parts/1`, { token: writer, body: bytes });
      return call('POST', `/v1/models/${id}/files/${name}/uploads/${up}/complete`, { token: writer });
    };
    // 3 MiB of inline weights between the nodes and the external reference: windows are skipped, not read.
    const big = model(
      graph({
        nodes: [node('MatMul', { inputs: ['input_ids', 'w'], outputs: ['logits'] })],
        initializers: [tensor('inline', { dims: [3 << 18], raw: new Uint8Array(3 << 20).fill(7) }), tensor('w', { location: 'model.onnx_data' })],
      }),
    );
    expect((await multipart('model.onnx', big)).status).toBe(201);
    await put(id, 'tokenizer.json', '{}');
    expect(await view(id)).toMatchObject({ graph: 'model.onnx', missing: ['model.onnx_data'] });

    const junk = new Uint8Array(2 << 20).fill(0xff);
    const r = await multipart('decoder_model.onnx', junk);
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('invalid_onnx');
    expect((await view(id)).files.map((f: { name: string }) => f.name)).toEqual(['model.onnx', 'tokenizer.json']);
    expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM uploads WHERE model_id = ?').bind(id).first('n')).toBe(0);
  });

  it('lets the owner choose the graph among uploaded *.onnx files', async () => {
    const id = await newModel();
    await put(id, 'model_fp16.onnx', tinyOnnx());
    await put(id, 'model_fp32.onnx', tinyOnnx());
    await put(id, 'tokenizer.json', '{}');
    let m = await view(id);
    expect(m).toMatchObject({ graph: null, complete: false });
    expect(m.problems[0]).toMatch(/several graph files \(model_fp16\.onnx, model_fp32\.onnx\).*PATCH/);
    expect((await evaluate(id)).body.error.code).toBe('unsupported_model');

    const patch = (json: unknown) => call('PATCH', `/v1/models/${id}`, { token: writer, json });
    expect((await patch({ graph: 'model_int8.onnx' })).body.error.code).toBe('unknown_file');
    expect((await patch({ graph: 'tokenizer.json' })).status).toBe(400);
    m = (await patch({ graph: 'model_fp32.onnx' })).body;
    expect(m).toMatchObject({ graph: 'model_fp32.onnx', problems: [], complete: true });
    // The choice also wins over name precedence, and null goes back to it.
    await put(id, 'model.onnx', tinyOnnx());
    expect((await view(id)).graph).toBe('model_fp32.onnx');
    expect((await patch({ graph: null })).body.graph).toBe('model.onnx');
  });

  it('the lease marks the graph with the family; the run records the graph file’s sha256', async () => {
    const id = await newModel('xglm');
    const graphBytes = externalModel('decoder_model_merged.onnx_data');
    await put(id, 'decoder_model_merged.onnx', graphBytes);
    await put(id, 'decoder_model_merged.onnx_data', new Uint8Array(16));
    await put(id, 'tokenizer.json', '{}');
    await put(id, 'config.json', '{}');
    const job = (await evaluate(id)).body.id;
    const l = await leaseJob(runner, job);
    const models = (l.inputs as unknown as { name: string; role: string; meta: Record<string, unknown> }[]).filter((i) => i.role === 'model');
    expect(models.map((i) => i.name).sort()).toEqual(['config.json', 'decoder_model_merged.onnx', 'decoder_model_merged.onnx_data', 'tokenizer.json']);
    expect(models.find((i) => i.name === 'decoder_model_merged.onnx')!.meta).toEqual({
      graph: true,
      family: 'xglm',
      externalData: ['decoder_model_merged.onnx_data'],
    });
    expect(models.filter((i) => i.meta.graph)).toHaveLength(1);
    const done = await call('POST', `/v1/runner/jobs/${job}/complete`, { token: runner, json: { leaseToken: l.leaseToken, result: {} } });
    expect(done.status).toBe(200);
    const run = await call('GET', `/v1/runs/${done.body.runId}`, { token: writer });
    expect(run.body.modelSha256).toBe(await sha256(graphBytes));
  });
});
