import { describe, expect, it } from 'vitest';
import { monitoringVersions, readComparison, readModelList, readMonitoring, refusalCodes, trendRows, type MonitoringPoint } from './dataLoop';

const point = (start: string, version: string, camera: string, glaucoma: number, normal: number, values: Partial<MonitoringPoint>): MonitoringPoint => ({
  start,
  model_version: version,
  camera,
  confirmed: glaucoma + normal,
  glaucoma,
  normal,
  auc: null,
  sensitivity: null,
  specificity: null,
  agreement: null,
  ...values,
});

describe('trendRows', () => {
  const series = [
    point('2026-11-01', 'v1', 'A', 10, 30, { auc: 0.8, sensitivity: 0.5, specificity: 0.9, agreement: 0.8 }),
    point('2026-11-01', 'v1', 'B', 30, 10, { auc: 0.6, sensitivity: 0.9, specificity: 0.5, agreement: 0.6 }),
    point('2026-12-01', 'v2', 'A', 5, 5, { auc: 0.7, sensitivity: null, specificity: 0.4, agreement: 0.5 }),
  ];

  it('pools the cameras: rates by their own denominators, the AUC by within-camera pairs', () => {
    const sensitivity = trendRows(series, 'sensitivity', null);
    // (0.5·10 + 0.9·30) / 40: the pooled share of glaucoma cases found.
    expect(sensitivity[0]?.v1).toBeCloseTo(0.8);
    expect(sensitivity[1]).toEqual({ start: '2026-12-01', v1: null, v2: null });
    expect(trendRows(series, 'specificity', null)[0]?.v1).toBeCloseTo((0.9 * 30 + 0.5 * 10) / 40);
    expect(trendRows(series, 'agreement', null)[0]?.v1).toBeCloseTo(0.7);
    // Both cameras have 300 pairs: the plain mean.
    expect(trendRows(series, 'auc', null)[0]?.v1).toBeCloseTo(0.7);
  });

  it('keeps one camera only when asked, every period of it', () => {
    expect(trendRows(series, 'auc', 'B')).toEqual([{ start: '2026-11-01', v1: 0.6, v2: null }]);
    expect(trendRows(series, 'auc', 'A').map((row) => row.start)).toEqual(['2026-11-01', '2026-12-01']);
  });

  it('orders versions by when they first serve, and refusal codes by count', () => {
    expect(monitoringVersions([series[2] as MonitoringPoint, ...series])).toEqual(['v1', 'v2']);
    expect(refusalCodes([{ start: 'a', codes: { x: 1, y: 3 } }, { start: 'b', codes: { x: 1, z: 3 } }])).toEqual(['y', 'z', 'x']);
  });
});

describe('reading the data loop answers', () => {
  it('reads a model list, leaving out versions without a name', () => {
    const list = readModelList({
      serving: 'baked',
      previous: null,
      versions: [{ model_version: 'v2', serving: false, by_domain: { A: { n: 3, auc: 0.7 } }, comparison: { status: 'running', current: 'baked' } }, { baked: true }],
    });
    expect(list.serving).toBe('baked');
    expect(list.previous).toBeNull();
    expect(list.versions).toHaveLength(1);
    expect(list.versions[0]).toMatchObject({
      model_version: 'v2',
      baked: false,
      threshold: null,
      by_domain: { A: { n: 3, auc: 0.7, sensitivity: null, specificity: null } },
      comparison: { status: 'running', current: 'baked', requested_at: null },
      links: {},
    });
  });

  it('reads a comparison, queued or failed', () => {
    expect(readComparison({ status: 'queued' }, 'v2')).toMatchObject({ candidate: 'v2', status: 'queued', models: [], cases: null });
    expect(readComparison({ candidate: 'v2', status: 'failed', error: { code: 'x', message: 'Boom.' } }, 'v2').error).toEqual({ code: 'x', message: 'Boom.' });
  });

  it('reads a monitoring answer with missing parts as empty', () => {
    expect(readMonitoring({ period: 'week' })).toEqual({
      period: 'week', min_cases: null, series: [], by_version: [], refusals: [], warnings: [], truncated: false,
    });
  });

  it('says when the range held more than the API read', () => {
    expect(readMonitoring({ period: 'month', truncated: true }).truncated).toBe(true);
    expect(readMonitoring({ period: 'month', truncated: 'yes' }).truncated).toBe(false);
  });
});
