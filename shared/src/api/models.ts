import { z } from 'zod';
import { isoDate, sha256Hex, visibility } from './common';

export const modelFamilies = ['xglm', 'bloom', 'gpt2', 'mgpt', 'llama', 'other'] as const;

export const createModelBody = z.object({
  name: z.string().trim().min(1).max(200),
  family: z.enum(modelFamilies),
  license: z.string().trim().min(1).max(100).optional(),
  visibility: visibility.default('private'),
});

// model.onnx, its external data (any name the graph references), tokenizer files, config.json.
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
    complete: z.boolean().meta({ description: 'true once model.onnx and tokenizer.json are uploaded' }),
    createdAt: isoDate,
  })
  .meta({ id: 'Model' });

export const patchModelBody = z.object({ visibility: visibility.optional(), license: z.string().max(100).optional() });

export const multipartUpload = z
  .object({ uploadId: z.string(), modelId: z.string(), fileName: z.string(), parts: z.array(z.object({ partNumber: z.number(), size: z.number() })) })
  .meta({ id: 'MultipartUpload' });

export const completeUploadBody = z.object({ sha256: sha256Hex.optional() }).default({});
export type ModelInfo = z.infer<typeof modelInfo>;
