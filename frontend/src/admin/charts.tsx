/**
 * The data loop's charts (recharts). Loaded lazily (see LazyCharts.tsx): only administrators need
 * them, so the screening pages do not carry the library. Each chart is drawn at the width its box
 * has (measured; a fixed width where nothing can be measured, as in tests), and its legend is
 * plain HTML under it, so the names and figures are read out and found like any other text.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Bar, BarChart, CartesianGrid, Line, LineChart, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';

/** Distinct on white (at least 3:1) and told apart by dashes too, for readers who do not see the colours. */
export const SERIES_STYLES: readonly { color: string; dash?: string }[] = [
  { color: '#1a5fb4' },
  { color: '#a3200f', dash: '6 3' },
  { color: '#0f6b2f', dash: '2 3' },
  { color: '#6b3fa0', dash: '8 3 2 3' },
  { color: '#8a5a00', dash: '4 4' },
  { color: '#45505c', dash: '1 2' },
];

export function seriesStyle(index: number): { color: string; dash?: string } {
  return SERIES_STYLES[index % SERIES_STYLES.length] ?? { color: '#1a5fb4' };
}

const FALLBACK_WIDTH = 560;

/** The width of the chart's box, following it as it changes. */
function useBoxWidth(): [React.RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(FALLBACK_WIDTH);
  useEffect(() => {
    const node = ref.current;
    if (!node) return;
    const measure = () => {
      const measured = Math.floor(node.getBoundingClientRect().width);
      if (measured > 0) setWidth(measured);
    };
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(measure);
    observer.observe(node);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

export interface LegendEntry {
  key: string;
  label: ReactNode;
  index: number;
}

function Legend({ entries, testId, box = false }: { entries: LegendEntry[]; testId?: string; box?: boolean }) {
  return (
    <ul className="chart-legend" data-testid={testId}>
      {entries.map((entry) => {
        const style = seriesStyle(entry.index);
        return (
          <li key={entry.key}>
            <svg width="28" height="12" aria-hidden="true" focusable="false">
              {box ? (
                <rect x="8" y="0" width="12" height="12" fill={style.color} />
              ) : (
                <line x1="0" y1="6" x2="28" y2="6" stroke={style.color} strokeWidth="3" strokeDasharray={style.dash} />
              )}
            </svg>
            {entry.label}
          </li>
        );
      })}
    </ul>
  );
}

export interface RocCurve {
  key: string;
  label: ReactNode;
  fpr: number[];
  tpr: number[];
}

interface RocChartProps {
  curves: RocCurve[];
  xLabel: string;
  yLabel: string;
  /** Words for the chart as a whole (the SVG's title for screen readers). */
  title: string;
}

/** ROC curves overlaid: false positive rate across, true positive rate up, the chance diagonal dotted. */
export function RocChart({ curves, xLabel, yLabel, title }: RocChartProps) {
  const [ref, width] = useBoxWidth();
  const side = Math.min(width, 420);
  return (
    <div className="chart-box" ref={ref} data-testid="roc-chart">
      <LineChart width={side} height={side} margin={{ top: 8, right: 16, bottom: 24, left: 8 }} title={title}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis type="number" dataKey="x" domain={[0, 1]} ticks={[0, 0.25, 0.5, 0.75, 1]} label={{ value: xLabel, position: 'insideBottom', offset: -12 }} />
        <YAxis type="number" domain={[0, 1]} ticks={[0, 0.25, 0.5, 0.75, 1]} label={{ value: yLabel, angle: -90, position: 'insideLeft' }} />
        <ReferenceLine segment={[{ x: 0, y: 0 }, { x: 1, y: 1 }]} stroke="#8c8c8c" strokeDasharray="2 4" />
        {curves.map((curve, index) => {
          const style = seriesStyle(index);
          const data = curve.fpr.map((x, point) => ({ x, y: curve.tpr[point] ?? null }));
          return (
            <Line
              key={curve.key}
              data={data}
              dataKey="y"
              name={curve.key}
              type="linear"
              stroke={style.color}
              strokeDasharray={style.dash}
              strokeWidth={2}
              dot={false}
              isAnimationActive={false}
            />
          );
        })}
      </LineChart>
      <Legend entries={curves.map((curve, index) => ({ key: curve.key, label: curve.label, index }))} testId="roc-legend" />
    </div>
  );
}

interface TrendChartProps {
  rows: Record<string, number | string | null>[];
  /** The versions, one line each, in legend order. */
  series: string[];
  /** The period's words for the x axis, by row. */
  formatX: (start: string) => string;
  formatY: (value: number) => string;
  title: string;
  testId?: string;
}

/** One metric over time, a line per model version (gaps where a version has no figure). */
export function TrendChart({ rows, series, formatX, formatY, title, testId }: TrendChartProps) {
  const [ref, width] = useBoxWidth();
  return (
    <div className="chart-box" ref={ref} data-testid={testId}>
      <LineChart width={width} height={220} data={rows} margin={{ top: 8, right: 16, bottom: 8, left: 0 }} title={title}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="start" tickFormatter={(value: string) => formatX(String(value))} />
        <YAxis domain={[0, 1]} ticks={[0, 0.25, 0.5, 0.75, 1]} tickFormatter={(value: number) => formatY(value)} width={56} />
        <Tooltip formatter={(value) => (typeof value === 'number' ? formatY(value) : String(value ?? '—'))} labelFormatter={(label) => formatX(String(label))} />
        {series.map((version, index) => {
          const style = seriesStyle(index);
          return (
            <Line
              key={version}
              dataKey={version}
              name={version}
              type="linear"
              stroke={style.color}
              strokeDasharray={style.dash}
              strokeWidth={2}
              connectNulls={false}
              isAnimationActive={false}
            />
          );
        })}
      </LineChart>
      <Legend entries={series.map((version, index) => ({ key: version, label: <code>{version}</code>, index }))} />
    </div>
  );
}

interface StackedBarChartProps {
  rows: Record<string, number | string>[];
  keys: { key: string; label: string }[];
  formatX: (start: string) => string;
  title: string;
  testId?: string;
}

/** Counts per period, stacked by kind (refusals by code). */
export function StackedBarChart({ rows, keys, formatX, title, testId }: StackedBarChartProps) {
  const [ref, width] = useBoxWidth();
  return (
    <div className="chart-box" ref={ref} data-testid={testId}>
      <BarChart width={width} height={220} data={rows} margin={{ top: 8, right: 16, bottom: 8, left: 0 }} title={title}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="start" tickFormatter={(value: string) => formatX(String(value))} />
        <YAxis allowDecimals={false} width={40} />
        <Tooltip labelFormatter={(label) => formatX(String(label))} />
        {keys.map((entry, index) => (
          <Bar key={entry.key} dataKey={entry.key} name={entry.label} stackId="codes" fill={seriesStyle(index).color} isAnimationActive={false} />
        ))}
      </BarChart>
      <Legend entries={keys.map((entry, index) => ({ key: entry.key, label: entry.label, index }))} box />
    </div>
  );
}
