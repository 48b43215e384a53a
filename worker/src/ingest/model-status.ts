/**
 * What a model's uploaded files add up to: its graph, what is still missing (each with the exact
 * command that uploads it) and why it cannot be pruned as uploaded. One place, so the model view,
 * job validation, the lease and run bookkeeping agree on which file is the graph.
 */
import { eq } from 'drizzle-orm';
import { chooseGraph, type GraphInfo, graphProblems, REQUIRED_SIDE_FILES, WITH_PAST_ONLY } from '@polyprune/shared/model-files';
import { modelFileName } from '@polyprune/shared/api/models';
import { modelFiles } from '../db/schema';
import type { Db } from '../lib/db';

/** Stands for "a graph file" in `missing` when no *.onnx is uploaded (its name depends on the exporter). */
export const ANY_GRAPH = '*.onnx';

type FileRow = typeof modelFiles.$inferSelect;

export interface ModelStatus {
  graph: string | null;
  missing: string[];
  /** one line per missing file: what it is and the command that uploads it */
  hints: string[];
  problems: string[];
  complete: boolean;
  /** the graph file's row, for its sha256 and scan */
  graphFile: FileRow | null;
}

const uploadHow = (modelId: string, name: string) =>
  `npx polyprune models upload ${modelId} ${name} (or PUT /v1/models/${modelId}/files/${name}; above 95 MB: POST /v1/models/${modelId}/files/${name}/uploads, multipart)`;

export function modelStatus(model: { id: string; graph: string | null }, files: FileRow[]): ModelStatus {
  const names = files.map((f) => f.name);
  const have = new Set(names);
  const choice = chooseGraph(names, model.graph);
  const missing: string[] = [];
  const hints: string[] = [];
  const problems: string[] = [];
  if (choice.ambiguous) {
    problems.push(
      `several graph files (${choice.ambiguous.join(', ')}) and none of them decoder_model_merged.onnx, model.onnx or decoder_model.onnx: ` +
        `choose one with PATCH /v1/models/${model.id} {"graph":"<name>"}`,
    );
  } else if (!choice.graph) {
    missing.push(ANY_GRAPH);
    hints.push(
      `${ANY_GRAPH}: the graph of the export as it is (decoder_model_merged.onnx, model.onnx, decoder_model.onnx or model_fp16.onnx): ${uploadHow(model.id, '<file>.onnx')}`,
    );
  }
  if (choice.withPastOnly) {
    problems.push(
      `${WITH_PAST_ONLY} alone cannot run the first step (it needs a past key/value cache): upload decoder_model_merged.onnx or decoder_model.onnx of the same export`,
    );
  }
  const graphFile = choice.graph ? (files.find((f) => f.name === choice.graph) ?? null) : null;
  // Files uploaded before graphs were scanned have no info: nothing is known to be missing from them.
  const info: GraphInfo | null = graphFile?.graphInfo ?? null;
  for (const loc of info?.externalData ?? []) {
    if (!modelFileName.safeParse(loc).success) {
      problems.push(
        `${choice.graph} keeps weights in "${loc}", which cannot be uploaded under that name (a plain file name is needed): ` +
          `re-save it with onnx.save_model(m, "${choice.graph}", save_as_external_data=True, location="${choice.graph}_data")`,
      );
    } else if (!have.has(loc)) {
      missing.push(loc);
      hints.push(`${loc}: the external weights of ${choice.graph}, named inside the graph: ${uploadHow(model.id, loc)}`);
    }
  }
  if (choice.graph && info) problems.push(...graphProblems(choice.graph, info.ops));
  for (const side of REQUIRED_SIDE_FILES) {
    if (have.has(side)) continue;
    missing.push(side);
    hints.push(`${side}: the tokenizer from the export folder: ${uploadHow(model.id, side)}`);
  }
  return { graph: choice.graph ?? null, missing, hints, problems, complete: !!choice.graph && missing.length === 0, graphFile };
}

export async function loadModelStatus(db: Db, model: { id: string; graph: string | null }): Promise<ModelStatus & { files: FileRow[] }> {
  const files = await db.select().from(modelFiles).where(eq(modelFiles.modelId, model.id));
  return { ...modelStatus(model, files), files };
}
