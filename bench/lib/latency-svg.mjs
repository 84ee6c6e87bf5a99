// bench/latency.svg (issue 19): latency against offered load, one panel per path with its floor
// drawn beside it, p50 solid, p99 dashed, p99.9 dotted. Drawn with Observable Plot, rendered to a
// standalone SVG through linkedom's DOM (Plot only needs `document` to build elements).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';

const STATS = [
  ['p50', 'p50_us', null],
  ['p99', 'p99_us', '6,3'],
  ['p99.9', 'p999_us', '2,3'],
];

/**
 * Flattens `curves` (see latency.mjs) into one row per (panel, series, statistic, load point).
 * @param {Record<string, import('./latency.mjs').CurveGroup>} curves
 */
export function curveRows(curves) {
  const rows = [];
  for (const group of Object.values(curves)) {
    const panel = `${group.path} vs ${group.floor}`;
    for (const point of group.points) {
      for (const role of ['floor', 'path']) {
        const r = point[role];
        for (const [stat, key] of STATS) {
          rows.push({
            panel,
            role,
            series: role === 'floor' ? group.floor : group.path,
            stat,
            load: Math.round(point.fraction * 100),
            ms: Math.max(r[key], 1) / 1000,
            shed: r.shed + r.failed + r.timed_out,
          });
        }
      }
    }
  }
  return rows;
}

/** The SVG markup of the chart. */
export function latencySvg(curves) {
  const rows = curveRows(curves);
  const { document } = parseHTML('<!doctype html><html><body></body></html>');
  const color = { floor: '#8c8c8c', path: '#1f6fb4' };
  const marks = [Plot.frame({ stroke: '#ddd' }), Plot.ruleX([100], { stroke: '#c33', strokeOpacity: 0.4 })];
  for (const [stat, , dash] of STATS) {
    const data = rows.filter((r) => r.stat === stat);
    marks.push(
      Plot.line(data, {
        x: 'load',
        y: 'ms',
        z: 'series',
        fx: 'panel',
        stroke: (d) => color[d.role],
        strokeWidth: stat === 'p50' ? 2 : 1.5,
        strokeDasharray: dash ?? undefined,
        marker: 'circle',
      }),
      Plot.text(
        data,
        Plot.selectLast({
          x: 'load',
          y: 'ms',
          z: 'series',
          fx: 'panel',
          text: (d) => `${d.series} ${stat}`,
          fill: (d) => color[d.role],
          dx: 4,
          textAnchor: 'start',
          fontSize: 9,
        }),
      ),
    );
  }
  // Points where anything was shed (503 / UNAVAILABLE), failed or timed out.
  marks.push(
    Plot.dot(
      rows.filter((r) => r.shed > 0 && r.stat === 'p99'),
      { x: 'load', y: 'ms', fx: 'panel', symbol: 'times', r: 5, stroke: '#c33' },
    ),
  );
  const svg = Plot.plot({
    document,
    width: 1100,
    height: 420,
    marginRight: 110,
    marginTop: 40,
    style: { background: 'white', fontSize: '11px' },
    x: { label: 'offered load (% of the floor’s capacity) →', domain: [20, 115] },
    y: {
      type: 'log',
      label: '↑ latency from intended send (ms)',
      grid: true,
      tickFormat: (d) => String(+d.toPrecision(2)),
    },
    fx: { label: null, domain: [...new Set(rows.map((r) => r.panel))] },
    marks,
  });
  svg.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  const title =
    'authz: latency vs offered load (open loop); grey = floor, blue = path; p50 solid, p99 dashed, p99.9 dotted; × = some requests shed/failed';
  return svg.outerHTML.replace(/^<svg([^>]*)>/, `<svg$1><title>${title}</title>`);
}

/** Writes the chart to `path`. */
export function writeLatencySvg(curves, path) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${latencySvg(curves)}\n`);
}
