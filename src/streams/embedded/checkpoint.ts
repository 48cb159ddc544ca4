/**
 * A small JSON value persisted atomically: write a temp file, fsync it, rename it over the old one,
 * fsync the directory. A crash leaves either the old or the new value, never a torn one.
 *
 * Saves coalesce: while one write is on its way to disk, later values wait and only the newest is
 * written next, so a consumer acking a thousand batches a second costs a handful of fsyncs.
 */
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export class CheckpointFile<T> {
  private inflight: Promise<void> = Promise.resolve();
  private queued?: Promise<void>;
  private latest?: T;
  private saved?: T;

  constructor(
    readonly path: string,
    private readonly durable = true,
  ) {}

  /** The stored value, or undefined when there is none yet. A corrupt file is an error naming it. */
  async load(): Promise<T | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      this.saved = JSON.parse(text) as T;
      return this.saved;
    } catch (e) {
      throw new Error(`checkpoint ${this.path} is not valid JSON: ${(e as Error).message}`);
    }
  }

  /** Last value known to be on disk. */
  get value(): T | undefined {
    return this.saved;
  }

  /** Resolves once `value` (or a newer one) is durable. */
  save(value: T): Promise<void> {
    this.latest = value;
    if (!this.queued) {
      const run = this.inflight
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          const v = this.latest as T;
          this.inflight = this.write(v).then(() => {
            this.saved = v;
          });
          return this.inflight;
        });
      this.queued = run;
      return run;
    }
    return this.queued;
  }

  /** Wait for every save issued so far. */
  async flush(): Promise<void> {
    await (this.queued ?? this.inflight).catch(() => undefined);
    await this.inflight.catch(() => undefined);
  }

  private async write(value: T): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(value), this.durable);
  }
}

export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  durable = true,
): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp`);
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, path);
  if (durable) await fsyncDir(dir);
}

export async function fsyncDir(dir: string): Promise<void> {
  const d = await fsp.open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
