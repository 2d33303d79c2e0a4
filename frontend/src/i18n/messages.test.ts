import { describe, expect, it } from 'vitest';
import { interpolate } from './I18nContext';
import { en, es } from './messages';

describe('messages', () => {
  it('has every English key in Spanish, none empty, with the same placeholders', () => {
    expect(Object.keys(es).sort()).toEqual(Object.keys(en).sort());
    for (const [key, english] of Object.entries(en)) {
      const spanish = es[key as keyof typeof en];
      expect(spanish.trim(), key).not.toBe('');
      const placeholders = (text: string) => (text.match(/\{\w+\}/g) ?? []).sort();
      expect(placeholders(spanish), key).toEqual(placeholders(english));
    }
  });

  it('fills placeholders', () => {
    expect(interpolate('Uploaded {percent}%', { percent: 40 })).toBe('Uploaded 40%');
    expect(interpolate('{missing} stays', {})).toBe('{missing} stays');
  });
});
