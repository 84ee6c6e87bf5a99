import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where Debian-style packages put server binaries, searched after `PATH`. */
const SYSTEM_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin'];

/**
 * The path of an executable (`nats-server`, `redis-server`): `PATH` first, then the sbin
 * directories that are often missing from a non-root `PATH`; `undefined` when there is none.
 */
export function findBinary(name: string, path: string | undefined = process.env.PATH): string | undefined {
  for (const dir of [...(path ?? '').split(delimiter), ...SYSTEM_DIRS]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}
