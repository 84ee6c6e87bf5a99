import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RESOURCE_TYPES } from '@authz/protocol';
import { stringify } from 'yaml';
import type { ConfigClient } from './api.js';
import { withoutServerMeta } from './apply.js';

/** One exported resource. */
export interface Exported {
  type: string;
  id: string;
  resource: Record<string, unknown>;
}

const MAX_LISTED = 1000;

/**
 * Every stored resource, in type order (introspectors, policies, users, clients, roles) and id
 * order, without server-managed meta: applying them to an empty cluster reproduces this one.
 * Hashed secrets (`User.password`, `Client.secret`) stay hashes and are stored as they are.
 */
export async function exportResources(api: ConfigClient): Promise<Exported[]> {
  const out: Exported[] = [];
  for (const type of RESOURCE_TYPES) {
    const reply = await api.request('GET', `/${type}?_count=${MAX_LISTED}`);
    if (reply.status !== 200) throw new Error(`GET /${type} answered ${reply.status}`);
    const bundle = reply.body as { total?: number; entry?: Array<{ resource: Record<string, unknown> }> };
    if ((bundle.total ?? 0) > MAX_LISTED) {
      throw new Error(`${type} has ${bundle.total} resources, more than the ${MAX_LISTED} one listing shows`);
    }
    const items = (bundle.entry ?? []).map(({ resource }) => ({
      type,
      id: String(resource.id),
      resource: withoutServerMeta(resource),
    }));
    out.push(...items.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
  }
  return out;
}

/**
 * Writes one YAML file per resource, `<dir>/<type>/<id>.yaml`, readable by the owner only: an
 * export holds introspector secrets (`jwt.secret`, introspection `authorization`).
 */
export async function writeExport(dir: string, resources: Exported[]): Promise<string[]> {
  const files: string[] = [];
  for (const { type, id, resource } of resources) {
    await mkdir(join(dir, type), { recursive: true, mode: 0o700 });
    const file = join(dir, type, `${id}.yaml`);
    await writeFile(file, stringify(resource), { mode: 0o600 });
    files.push(file);
  }
  return files;
}

/** All resources as one multi-document YAML stream (export without `-o`). */
export function exportYaml(resources: Exported[]): string {
  return resources.map((r) => stringify(r.resource)).join('---\n');
}
