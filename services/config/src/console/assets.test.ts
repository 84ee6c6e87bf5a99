import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsoleAssets, defaultConsoleDir } from './assets.js';
import { consoleArea } from './gate.js';

const dir = mkdtempSync(join(tmpdir(), 'console-assets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ConsoleAssets', () => {
  it('is unavailable until index.html exists, then serves the build from memory', () => {
    const assets = new ConsoleAssets(dir);
    expect(assets.available).toBe(false);
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html>');
    writeFileSync(join(dir, 'assets', 'app-1.js'), 'export {}');
    writeFileSync(join(dir, 'notes.bin'), 'x');
    expect(assets.available).toBe(true);
    expect(assets.get('index.html')).toMatchObject({
      contentType: 'text/html; charset=utf-8',
      immutable: false,
    });
    expect(assets.get('assets/app-1.js')).toMatchObject({
      contentType: 'text/javascript; charset=utf-8',
      immutable: true,
    });
    // Only known file types, and only files that exist in the build: no path ever reaches the disk.
    expect(assets.get('notes.bin')).toBeUndefined();
    expect(assets.get('../package.json')).toBeUndefined();
  });

  it('finds the dist folder of the installed @authz/console', () => {
    expect(defaultConsoleDir()).toMatch(/services[/\\]console[/\\]dist$/);
  });
});

describe('consoleArea', () => {
  it.each([
    ['/healthz', undefined],
    ['/consoles', undefined],
    ['/console', { kind: 'page', file: '' }],
    ['/console/', { kind: 'page', file: 'index.html' }],
    ['/console/assets/a.js', { kind: 'page', file: 'assets/a.js' }],
    ['/console/api/session', { kind: 'session' }],
    ['/console/api', { kind: 'api', path: '/' }],
    ['/console/api/AccessPolicy/p1', { kind: 'api', path: '/AccessPolicy/p1' }],
    ['/console/api/$check', { kind: 'api', path: '/$check' }],
  ])('%s', (path, area) => {
    expect(consoleArea(path)).toEqual(area);
  });
});
