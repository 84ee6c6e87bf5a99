import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';

/** One built file of the console, held in memory. */
export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
  /** Strong ETag: a digest of the body. */
  etag: string;
  /** Vite's hashed files under `assets/` never change: they may be cached for a year. */
  immutable: boolean;
}

/** Bounds on what is loaded from the console's dist folder. */
const MAX_FILES = 500;
const MAX_TOTAL_BYTES = 32 * 1024 * 1024;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The dist folder of `@authz/console` as installed next to this service, or `undefined` when the
 * package cannot be found.
 */
export function defaultConsoleDir(): string | undefined {
  try {
    const manifest = createRequire(import.meta.url).resolve('@authz/console/package.json');
    return join(dirname(manifest), 'dist');
  } catch {
    return undefined;
  }
}

/**
 * The console's built files, read into memory on first use and then served from there. While
 * the folder has no `index.html` (not built yet) every lookup tries again, so building the
 * console while the service runs is enough.
 */
export class ConsoleAssets {
  private files: Map<string, ConsoleAsset> | undefined;

  constructor(readonly dir: string | undefined) {}

  /** Whether the build is there (loads it when it just appeared). */
  get available(): boolean {
    return this.load() !== undefined;
  }

  /** The file at `path` relative to the dist folder (`index.html`, `assets/app-1a2b.js`). */
  get(path: string): ConsoleAsset | undefined {
    return this.load()?.get(path);
  }

  private load(): Map<string, ConsoleAsset> | undefined {
    if (this.files) return this.files;
    if (!this.dir || !existsSync(join(this.dir, 'index.html'))) return undefined;
    const files = new Map<string, ConsoleAsset>();
    let total = 0;
    for (const file of walk(this.dir)) {
      const contentType = CONTENT_TYPES[extname(file)];
      if (!contentType) continue;
      const body = readFileSync(file);
      total += body.length;
      if (files.size >= MAX_FILES || total > MAX_TOTAL_BYTES) {
        throw new Error(
          `the console build in ${this.dir} is larger than ${MAX_FILES} files / ${MAX_TOTAL_BYTES} bytes`,
        );
      }
      const path = relative(this.dir, file).split(sep).join('/');
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      files.set(path, { body, contentType, etag, immutable: path.startsWith('assets/') });
    }
    this.files = files;
    return files;
  }
}

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) yield* walk(path);
    else if (stat.isFile()) yield path;
  }
}
