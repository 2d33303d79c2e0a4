import { screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { LANGUAGE_STORAGE_KEY } from '../i18n/I18nContext';
import { en, es } from '../i18n/messages';
import { renderWithProviders } from '../test/render';
import { ErrorView, REFUSAL_CODES } from './ErrorView';

const API_MESSAGE = 'The photo is out of focus; retake it with the camera focused on the optic disc.';

function show(code: string | undefined, message = API_MESSAGE) {
  renderWithProviders(<ErrorView message={message} code={code} kind="rejected" onTryAgain={() => undefined} />);
  return screen.getByTestId('error-message').textContent;
}

afterEach(() => window.localStorage.clear());

describe('ErrorView', () => {
  it('has words in English and Spanish for every refusal code, each saying what to do', () => {
    for (const code of REFUSAL_CODES) {
      const key = `refusal.${code}` as keyof typeof en;
      expect(en[key], code).toMatch(/\w.*\.$/);
      expect(es[key], code).toMatch(/\w.*\.$/);
      expect(es[key], code).not.toBe(en[key]);
    }
  });

  it("shows the API's own sentence in English", () => {
    expect(show('too_blurred')).toBe(API_MESSAGE);
  });

  it('tells a known refusal in Spanish when the page is in Spanish', () => {
    window.localStorage.setItem(LANGUAGE_STORAGE_KEY, 'es');
    expect(show('too_blurred')).toBe(es['refusal.too_blurred']);
  });

  it("falls back to the API's sentence for a code it does not know, in any language", () => {
    window.localStorage.setItem(LANGUAGE_STORAGE_KEY, 'es');
    expect(show('some_new_code', 'Something specific.')).toBe('Something specific.');
  });

  it('uses its own English words when the API sent no sentence', () => {
    expect(show('not_a_fundus_photo', '')).toBe(en['refusal.not_a_fundus_photo']);
  });
});
