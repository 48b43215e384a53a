import { z } from 'zod';
import { isoDate, sha256Hex, visibility } from './common';

export const modelFamilies = ['xglm', 'bloom', 'gpt2', 'mgpt', 'llama', 'other'] as const;
export type ModelFamily = (typeof modelFamilies)[number];

export const createModelBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  family: z.enum(modelFamilies),
  license: z.string().trim().min(1).max(100).optional(),
  visibility: visibility.default('private'),
});

// The export's files under their own names: the graph (*.onnx), its external data (any name the
// graph references), tokenizer and config files.
export const modelFileName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a plain file name: letters, digits, . _ - (no slashes)');

export const modelFile = z.object({ name: z.string(), size: z.number(), sha256: sha256Hex, createdAt: isoDate }).meta({ id: 'ModelFile' });

export const modelInfo = z
  .object({
    id: z.string(),
    owner: z.string(),
    name: z.string(),
    family: z.enum(modelFamilies),
    license: z.string().nullable(),
    visibility,
    files: z.array(modelFile),
    graph: z.string().nullable().meta({
      description:
        "the graph file: the owner's choice (PATCH graph), else decoder_model_merged.onnx, model.onnx, decoder_model.onnx, else the single other *.onnx",
    }),
    missing: z.array(z.string()).meta({
      description: 'files still needed: external-data files the graph names, tokenizer.json, and "*.onnx" while there is no graph',
    }),
    hints: z.array(z.string()).meta({ description: 'one line per missing file: what it is and the command that uploads it' }),
    problems: z.array(z.string()).meta({
      description: 'why the model cannot be pruned as uploaded (quantized weights, a search wrapper, no first-step graph); jobs are refused while any remain',
    }),
    complete: z.boolean().meta({ description: 'true once there is a graph and nothing is missing' }),
    createdAt: isoDate,
  })
  .meta({ id: 'Model' });

export const patchModelBody = z.strictObject({
  visibility: visibility.optional(),
  license: z.string().max(100).optional(),
  /** an uploaded *.onnx file to use as the graph; null goes back to choosing by name */
  graph: modelFileName
    .refine((n) => n.toLowerCase().endsWith('.onnx'), 'a *.onnx file')
    .nullable()
    .optional(),
});

export const multipartUpload = z
  .object({ uploadId: z.string(), modelId: z.string(), fileName: z.string(), parts: z.array(z.object({ partNumber: z.number(), size: z.number() })) })
  .meta({ id: 'MultipartUpload' });

export const completeUploadBody = z.strictObject({ sha256: sha256Hex.optional() }).default({});
export type ModelInfo = z.infer<typeof modelInfo>;
