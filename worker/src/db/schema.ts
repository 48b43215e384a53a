/**
 * The single D1 schema. Migrations in /migrations are generated from this file by drizzle-kit
 * (`npm run db:generate`) and never edited by hand after they land.
 */
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

const createdAt = () => text('created_at').notNull();

export const tokens = sqliteTable(
  'tokens',
  {
    id: text('id').primaryKey(),
    owner: text('owner').notNull(),
    name: text('name'),
    scopes: text('scopes', { mode: 'json' }).$type<string[]>().notNull(),
    secretHash: text('secret_hash').notNull(),
    rateLimitPerMinute: integer('rate_limit_per_minute'),
    createdAt: createdAt(),
    lastUsedAt: text('last_used_at'),
    revokedAt: text('revoked_at'),
  },
  (t) => [uniqueIndex('tokens_secret_hash').on(t.secretHash)],
);

export const rateLimits = sqliteTable(
  'rate_limits',
  { key: text('key').notNull(), window: integer('window').notNull(), count: integer('count').notNull() },
  (t) => [primaryKey({ columns: [t.key, t.window] })],
);

export const models = sqliteTable(
  'models',
  {
    id: text('id').primaryKey(),
    owner: text('owner').notNull(),
    name: text('name').notNull(),
    family: text('family').notNull(),
    license: text('license'),
    visibility: text('visibility').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('models_owner').on(t.owner)],
);

export const modelFiles = sqliteTable(
  'model_files',
  {
    modelId: text('model_id').notNull(),
    name: text('name').notNull(),
    sha256: text('sha256').notNull(),
    size: integer('size').notNull(),
    r2Key: text('r2_key').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.modelId, t.name] })],
);

export const uploads = sqliteTable('uploads', {
  id: text('id').primaryKey(),
  r2UploadId: text('r2_upload_id').notNull(),
  r2Key: text('r2_key').notNull(),
  modelId: text('model_id').notNull(),
  fileName: text('file_name').notNull(),
  owner: text('owner').notNull(),
  createdAt: createdAt(),
});

export const uploadParts = sqliteTable(
  'upload_parts',
  {
    uploadId: text('upload_id').notNull(),
    partNumber: integer('part_number').notNull(),
    etag: text('etag').notNull(),
    size: integer('size').notNull(),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.partNumber] })],
);

export const corpora = sqliteTable(
  'corpora',
  {
    id: text('id').primaryKey(),
    owner: text('owner').notNull(),
    name: text('name').notNull(),
    src: text('src').notNull(),
    tgt: text('tgt').notNull(),
    visibility: text('visibility').notNull(),
    sha256: text('sha256').notNull(),
    size: integer('size').notNull(),
    r2Key: text('r2_key').notNull(),
    stats: text('stats', { mode: 'json' }).notNull(),
    skippedLines: text('skipped_lines', { mode: 'json' }),
    createdAt: createdAt(),
  },
  (t) => [index('corpora_owner').on(t.owner)],
);

export const suites = sqliteTable(
  'suites',
  {
    id: text('id').primaryKey(),
    owner: text('owner').notNull(),
    name: text('name').notNull(),
    format: text('format').notNull(),
    lang: text('lang').notNull(),
    visibility: text('visibility').notNull(),
    sha256: text('sha256').notNull(),
    size: integer('size').notNull(),
    r2Key: text('r2_key').notNull(),
    stats: text('stats', { mode: 'json' }).notNull(),
    skippedLines: text('skipped_lines', { mode: 'json' }),
    createdAt: createdAt(),
  },
  (t) => [index('suites_owner').on(t.owner)],
);
