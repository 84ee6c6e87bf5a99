import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';

/** Where a document came from: a file, the document's place in it, and a Bundle entry. */
export interface DocSource {
  file: string;
  /** 0-based document index in a multi-document YAML file. */
  doc: number;
  /** 0-based `entry[]` index when the resource came from a Bundle. */
  entry?: number;
}

/** One resource read from files, not yet validated beyond having a type and an id. */
export interface ResourceDoc {
  source: DocSource;
  type: string;
  id: string;
  resource: Record<string, unknown>;
}

/** A file that cannot be read as resources: names the file, and the line or path when known. */
export class DocumentError extends Error {
  readonly code = 'ERR_DOCUMENT';
  constructor(
    readonly file: string,
    message: string,
    readonly where?: string,
  ) {
    super(`${file}${where ? ` (${where})` : ''}: ${message}`);
    this.name = 'DocumentError';
  }
}

/** The extensions read as configuration. */
const CONFIG_FILE = /\.(ya?ml|json)$/i;
/** Policy test suites (`authz test`): never applied as resources (OPA's `_test.rego` idea). */
const TEST_FILE = /[._-]test\.(ya?ml|json)$/i;
/** Files and documents a load reads at most: a runaway directory is refused, not half-read. */
export const MAX_FILES = 5000;
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** Renders a source as people read it: `policies/seed.yaml#2 entry[3]`. */
export function describeSource(source: DocSource): string {
  return `${source.file}${source.doc > 0 ? `#${source.doc}` : ''}${source.entry === undefined ? '' : ` entry[${source.entry}]`}`;
}

/**
 * The configuration files under `target` (a file, or a directory read recursively in name
 * order), skipping dotfiles and policy test suites (`*.test.yaml`, `*_test.yaml`).
 */
export async function configFiles(target: string, { tests = false } = {}): Promise<string[]> {
  const info = await stat(target).catch((err: NodeJS.ErrnoException) => {
    throw new DocumentError(target, err.code === 'ENOENT' ? 'no such file or directory' : err.message);
  });
  if (!info.isDirectory()) return [target];
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (CONFIG_FILE.test(entry.name) && TEST_FILE.test(entry.name) === tests) files.push(path);
      if (files.length > MAX_FILES) throw new DocumentError(target, `more than ${MAX_FILES} files`);
    }
  };
  await walk(target);
  return files;
}

/**
 * Every document of a YAML or JSON file (JSON is read as the YAML 1.2 it is). Duplicate keys
 * are refused (as the config API does, DESIGN §7), with the line and column.
 */
export async function readDocuments(file: string): Promise<unknown[]> {
  const text = await readFile(file, 'utf8').catch((err: Error) => {
    throw new DocumentError(file, err.message);
  });
  if (text.length > MAX_FILE_BYTES) throw new DocumentError(file, `larger than ${MAX_FILE_BYTES} bytes`);
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { uniqueKeys: true, lineCounter, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  const values: unknown[] = [];
  for (const doc of list) {
    const [error] = doc.errors;
    if (error) {
      const pos = lineCounter.linePos(error.pos[0]);
      throw new DocumentError(
        file,
        error.message.split('\n')[0] as string,
        `line ${pos.line}, column ${pos.col}`,
      );
    }
    values.push(doc.toJS({ maxAliasCount: 16 }));
  }
  return values;
}

/**
 * Reads the resources under `target`: single resources, multi-document YAML and Bundles
 * (`entry[].resource`). Each keeps its source so a refusal can name file and document. Empty
 * documents are skipped; a document without `resourceType` and `id` is an error.
 */
export async function loadResources(target: string, base = process.cwd()): Promise<ResourceDoc[]> {
  const out: ResourceDoc[] = [];
  for (const path of await configFiles(target)) {
    const file = relative(base, path) || path;
    const docs = await readDocuments(path);
    docs.forEach((value, doc) => {
      if (value === null || value === undefined) return;
      if (isObject(value) && value.resourceType === 'Bundle') {
        const entries = Array.isArray(value.entry) ? value.entry : [];
        entries.forEach((e: unknown, entry) => {
          out.push(resourceDoc({ file, doc, entry }, isObject(e) ? e.resource : undefined));
        });
        return;
      }
      out.push(resourceDoc({ file, doc }, value));
    });
    if (out.length > MAX_FILES) throw new DocumentError(file, `more than ${MAX_FILES} resources`);
  }
  return out;
}

function resourceDoc(source: DocSource, value: unknown): ResourceDoc {
  const where = describeSource(source).slice(source.file.length).trim() || undefined;
  if (!isObject(value))
    throw new DocumentError(source.file, 'a document must be a resource (a mapping)', where);
  const { resourceType: type, id } = value;
  if (typeof type !== 'string' || type === '') {
    throw new DocumentError(
      source.file,
      'resourceType is required',
      where ? `${where}, resourceType` : 'resourceType',
    );
  }
  if (typeof id !== 'string' || id === '') {
    throw new DocumentError(source.file, `${type} needs an id`, where ? `${where}, id` : 'id');
  }
  return { source, type, id, resource: value };
}

/** A JSON object (not null, not a list). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
