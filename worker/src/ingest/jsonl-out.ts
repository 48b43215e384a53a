/**
 * The normalised rows of an upload (one JSON object per line), written to R2 as they are validated:
 * lines are gathered into batches of about BATCH_CHARS, encoded and handed to a streaming writer
 * (multipart parts of 5 MiB, sha256 computed as the bytes pass), so the rows are never held whole.
 */
import { type KeptOriginal, OriginalWriter } from '../lib/originals';

const BATCH_CHARS = 256 * 1024;
const encoder = new TextEncoder();

export class JsonlOut {
  readonly writer: OriginalWriter;
  private batch: string[] = [];
  private batchChars = 0;
  rows = 0;

  constructor(bucket: R2Bucket, prefix = 'rows') {
    this.writer = new OriginalWriter(bucket, undefined, 'application/x-ndjson', true, prefix);
  }

  /** A promise only when a batch goes out (callers await that one, not one per row). */
  add(row: unknown): Promise<void> | undefined {
    const line = `${JSON.stringify(row)}\n`;
    this.batch.push(line);
    this.batchChars += line.length;
    this.rows++;
    return this.batchChars >= BATCH_CHARS ? this.flush() : undefined;
  }

  private async flush() {
    if (!this.batch.length) return;
    const bytes = encoder.encode(this.batch.join(''));
    this.batch = [];
    this.batchChars = 0;
    await this.writer.write(bytes);
  }

  /** Where the rows would be stored while they are held whole (under one part), without storing them; else null. */
  async held(): Promise<KeptOriginal | null> {
    await this.flush();
    this.writer.end();
    return this.writer.held();
  }

  /** Stores the rows (every row's JSON + "\n"): under their content address, or over a part at their upload key. */
  async finish(): Promise<KeptOriginal> {
    await this.flush();
    this.writer.end();
    return this.writer.finish();
  }

  /** Stores the rows at a scratch upload key (see OriginalWriter.finishScratch). */
  async finishScratch(): Promise<string> {
    await this.flush();
    return this.writer.finishScratch();
  }
}
