import { describe, expect, it } from 'vitest';
import { isEmail, passwordProblems } from './passwordPolicy';

describe('password policy', () => {
  it.each([
    ['', ['length', 'upper', 'lower', 'digit']],
    ['short1A', ['length']],
    ['alllowercase123', ['upper']],
    ['ALLUPPERCASE123', ['lower']],
    ['NoDigitsAtAllHere', ['digit']],
    ['Correct-Horse-9', []],
    ['Ñandú-pájaro-1', []],
  ])('%j misses %j', (password, missing) => {
    expect(passwordProblems(password)).toEqual(missing);
  });

  it('tells an e-mail address from other text', () => {
    expect(isEmail('ada@example.org')).toBe(true);
    expect(isEmail('ada@example')).toBe(false);
    expect(isEmail('ada example.org')).toBe(false);
    expect(isEmail('@example.org')).toBe(false);
  });
});
