import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';
import type { Bucket } from './query.js';

// Only the parts drawn here: Chart.js tree-shakes the rest out of the bundle.
Chart.register(
  BarController,
  BarElement,
  LineController,
  LineElement,
  PointElement,
  CategoryScale,
  LinearScale,
  Tooltip,
  Legend,
);

/** Colours of the outcomes, as the rest of the console shows them (styles.css --ok / --bad). */
const COLORS = { allowed: '#2e7d32', denied: '#c62828', unavailable: '#ef6c00', latency: '#1565c0' };

/**
 * Allowed / denied / could-not-decide counts as stacked bars per time bucket, and the mean
 * decision latency as a line on its own axis (Chart.js, drawn on a canvas: nothing inline
 * that the console's strict CSP would refuse).
 */
export function DecisionChart({ buckets, label }: { buckets: Bucket[]; label: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | undefined>(undefined);

  useEffect(() => {
    if (!canvas.current) return;
    chart.current = new Chart(canvas.current, {
      type: 'bar',
      data: { labels: [], datasets: [] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: { stacked: true },
          y: { stacked: true, beginAtZero: true, title: { display: true, text: 'decisions' } },
          latency: {
            position: 'right',
            beginAtZero: true,
            grid: { drawOnChartArea: false },
            title: { display: true, text: 'ms' },
          },
        },
      },
    });
    return () => chart.current?.destroy();
  }, []);

  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.data.labels = buckets.map((b) => new Date(b.start).toLocaleTimeString(undefined, { hour12: false }));
    c.data.datasets = [
      {
        type: 'bar',
        label: 'allowed',
        data: buckets.map((b) => b.allowed),
        backgroundColor: COLORS.allowed,
        stack: 'n',
      },
      {
        type: 'bar',
        label: 'denied',
        data: buckets.map((b) => b.denied),
        backgroundColor: COLORS.denied,
        stack: 'n',
      },
      {
        type: 'bar',
        label: '503',
        data: buckets.map((b) => b.unavailable),
        backgroundColor: COLORS.unavailable,
        stack: 'n',
      },
      {
        type: 'line',
        label: 'mean latency (ms)',
        data: buckets.map((b) => b.latency ?? null),
        borderColor: COLORS.latency,
        backgroundColor: COLORS.latency,
        yAxisID: 'latency',
        spanGaps: true,
      },
    ] as never;
    c.update();
  }, [buckets]);

  return (
    <figure class="decision-chart">
      <div class="chart-box">
        <canvas ref={canvas} role="img" aria-label={label} />
      </div>
      <figcaption class="muted">{label}</figcaption>
    </figure>
  );
}
