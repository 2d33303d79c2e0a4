import { describe, expect, it } from 'vitest';
import { formatStat, humanize, statGroups } from './format';

describe('statGroups', () => {
  it('puts top-level figures first and groups each object, flattening nested ones', () => {
    const groups = statGroups({
      total: 12,
      by_status: { done: 10, failed: 2 },
      agreement: { agree: 4, disagree: 1, rate: 0.8, by_label: { glaucoma: 2 } },
      ignored: [{ deep: 1 }],
    });
    expect(groups.map((group) => group.key)).toEqual(['', 'by_status', 'agreement']);
    expect(groups[0]?.items).toEqual([{ key: 'total', path: 'total', parts: ['total'], value: 12 }]);
    expect(groups[2]?.items.map((item) => item.path)).toEqual(['agree', 'disagree', 'rate', 'by_label.glaucoma']);
  });
});

describe('formatStat', () => {
  it('shows counts whole, named rates as percentages and other decimals short', () => {
    expect(formatStat('done', 1200, 'en', 'Yes', 'No')).toBe('1,200');
    expect(formatStat('rate', 0.8, 'en', 'Yes', 'No')).toBe('80%');
    expect(formatStat('agreement_rate', 1, 'en', 'Yes', 'No')).toBe('100%');
    expect(formatStat('kappa', 0.61234, 'en', 'Yes', 'No')).toBe('0.612');
    expect(formatStat('x', null, 'en', 'Yes', 'No')).toBe('—');
    expect(humanize('agreement_rate')).toBe('Agreement rate');
    expect(humanize('vgg19-2026-11-25')).toBe('vgg19-2026-11-25');
    expect(humanize('v1.2')).toBe('v1.2');
  });
});
