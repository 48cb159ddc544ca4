/**
 * Enrichment assets (MaxMind databases, the referer database, IAB lists, user-agent regexes) as
 * Snowplow's configs name them: `{uri, database}` meaning `<uri>/<database>`, where `uri` is a local
 * path, a `file:` URI or an HTTP(S) URL. Assets are fetched once at start (a missing or corrupt file
 * fails start with a message naming it) and refreshed on a schedule; a failed refresh keeps the old
 * value and is reported, never thrown at events.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export class AssetError extends Error {
  override name = 'AssetError';
}

export interface AssetRef {
  uri: string;
  database: string;
}

/** Snowplow's default refresh period (`assetsUpdatePeriod`): 7 days. */
export const DEFAULT_REFRESH_MS = 7 * 24 * 3600 * 1000;

/** Where `<uri>/<database>` points: an absolute path or an http(s) URL. */
export function assetLocation(ref: AssetRef, baseDir: string): string {
  const uri = ref.uri.replace(/\/+$/, '');
  if (/^https?:\/\//i.test(uri)) return `${uri}/${ref.database}`;
  if (/^file:/i.test(uri)) return join(fileURLToPath(uri), ref.database);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw new AssetError(
      `${ref.database}: unsupported asset URI scheme in "${ref.uri}" (use a path, file:, http: or https:)`,
    );
  }
  const dir = uri === '' ? baseDir : isAbsolute(uri) ? uri : resolve(baseDir, uri);
  return join(dir, ref.database);
}

/** Reads an asset's bytes; any failure names the file. */
export async function fetchAsset(ref: AssetRef, baseDir: string, timeoutMs = 60_000): Promise<Buffer> {
  const where = assetLocation(ref, baseDir);
  if (/^https?:\/\//i.test(where)) {
    let res: Response;
    try {
      res = await fetch(where, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw new AssetError(`asset ${where}: download failed (${(e as Error).message})`);
    }
    if (!res.ok) throw new AssetError(`asset ${where}: download failed with HTTP ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  }
  try {
    return await readFile(where);
  } catch (e) {
    throw new AssetError(
      `asset ${where}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message}`,
    );
  }
}

/**
 * A parsed asset kept fresh. `parse` turns the bytes into what the enrichment uses and must throw on a
 * corrupt file; at start that error fails the enrichment (naming the file), on refresh it is reported
 * through `onError` and the previous value stays in use.
 */
export class RefreshingAsset<T> {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private current: T,
    readonly location: string,
  ) {}

  static async load<T>(
    ref: AssetRef,
    parse: (bytes: Buffer, location: string) => T | Promise<T>,
    opts: { baseDir: string; refreshMs?: number; onError?: (e: Error) => void },
  ): Promise<RefreshingAsset<T>> {
    const location = assetLocation(ref, opts.baseDir);
    const first: T = await RefreshingAsset.parseOrFail(ref, parse, opts.baseDir, location);
    const asset = new RefreshingAsset<T>(first, location);
    const period = opts.refreshMs ?? DEFAULT_REFRESH_MS;
    if (period > 0 && Number.isFinite(period)) {
      asset.timer = setInterval(() => {
        RefreshingAsset.parseOrFail(ref, parse, opts.baseDir, location).then(
          (v: T) => {
            asset.current = v;
          },
          (e: Error) => opts.onError?.(e),
        );
      }, period);
      asset.timer.unref();
    }
    return asset;
  }

  private static async parseOrFail<T>(
    ref: AssetRef,
    parse: (bytes: Buffer, location: string) => T | Promise<T>,
    baseDir: string,
    location: string,
  ): Promise<T> {
    const bytes = await fetchAsset(ref, baseDir);
    try {
      return await parse(bytes, location);
    } catch (e) {
      throw new AssetError(`asset ${location}: not a valid ${ref.database} (${(e as Error).message})`);
    }
  }

  get value(): T {
    return this.current;
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }
}
