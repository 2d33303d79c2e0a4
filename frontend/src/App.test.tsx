import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from './App';
import { LANGUAGE_STORAGE_KEY } from './i18n/I18nContext';
import { renderWithProviders } from './test/render';

describe('consent gating', () => {
  it('shows the consent first and the upload only after acceptance', async () => {
    const { api } = renderWithProviders(<App />);
    const dialog = screen.getByRole('dialog', { name: 'Before you start' });
    expect(dialog.textContent).toMatch(/research screening aid/);
    expect(dialog.textContent).toMatch(/stored/);
    expect(screen.queryByTestId('upload-step')).toBeNull();
    // The page behind cannot be reached while the consent is open.
    expect(document.querySelector('.app-shell')?.hasAttribute('inert')).toBe(true);
    expect(document.activeElement?.id).toBe('consent-title');

    await userEvent.click(screen.getByRole('button', { name: 'I understand and agree' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(screen.getByTestId('upload-step')).toBeTruthy();
    expect(document.querySelector('.app-shell')?.hasAttribute('inert')).toBe(false);
    expect(document.activeElement?.id).toBe('upload-title');
    expect(api.createScreening).not.toHaveBeenCalled();
  });

  it('offers no upload when declined, and lets the person reconsider', async () => {
    renderWithProviders(<App />);
    await userEvent.click(screen.getByRole('button', { name: 'No, thanks' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(screen.queryByTestId('upload-step')).toBeNull();
    expect(screen.getByTestId('consent-declined')).toBeTruthy();
    await userEvent.click(screen.getByRole('button', { name: 'Read the consent again' }));
    expect(screen.getByRole('dialog')).toBeTruthy();
  });

  it('does not ask on the guide page', async () => {
    window.location.hash = '#/guide';
    renderWithProviders(<App />);
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('How to take and crop a good photo');
    expect(screen.getAllByRole('img').length).toBeGreaterThanOrEqual(3);
  });
});

describe('language switch', () => {
  it('switches to Spanish, remembers it, and switches back', async () => {
    const first = renderWithProviders(<App />);
    expect(screen.getByRole('dialog', { name: 'Before you start' })).toBeTruthy();
    // The switch sits behind the inert page while the consent is open; accept first.
    await userEvent.click(screen.getByRole('button', { name: 'I understand and agree' }));
    await userEvent.click(screen.getByRole('button', { name: 'Español' }));

    expect(screen.getByRole('heading', { level: 2, name: 'Elige una retinografía' })).toBeTruthy();
    expect(window.localStorage.getItem(LANGUAGE_STORAGE_KEY)).toBe('es');
    expect(document.documentElement.lang).toBe('es');
    expect(screen.getByRole('button', { name: 'Español' }).getAttribute('aria-pressed')).toBe('true');
    first.unmount();

    // A new visit starts in the remembered language.
    renderWithProviders(<App />);
    expect(screen.getByRole('dialog', { name: 'Antes de empezar' })).toBeTruthy();
    await userEvent.click(screen.getByRole('button', { name: 'Entiendo y acepto' }));
    await userEvent.click(screen.getByRole('button', { name: 'English' }));
    await waitFor(() => expect(window.localStorage.getItem(LANGUAGE_STORAGE_KEY)).toBe('en'));
    expect(screen.getByRole('heading', { level: 2, name: 'Choose a fundus photo' })).toBeTruthy();
  });
});

describe('routing', () => {
  it('keeps the screening page, hidden, while another page is shown', async () => {
    renderWithProviders(<App />);
    await userEvent.click(screen.getByRole('button', { name: 'I understand and agree' }));
    await userEvent.click(screen.getByRole('link', { name: 'Photo guide' }));
    await waitFor(() => expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('How to take and crop a good photo'));
    // Hidden, not gone: its state survives the visit.
    expect(document.querySelector('[data-testid="upload-step"]')!.closest('[hidden]')).not.toBeNull();
    await userEvent.click(within(screen.getByRole('navigation')).getByRole('link', { name: 'Screen a photo' }));
    await waitFor(() => expect(screen.getByTestId('upload-step').closest('[hidden]')).toBeNull());
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('moves between pages by hash and marks the current link', async () => {
    renderWithProviders(<App />);
    await userEvent.click(screen.getByRole('button', { name: 'I understand and agree' }));
    await userEvent.click(screen.getByRole('link', { name: 'About' }));
    await waitFor(() => expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('About Papila'));
    expect(screen.getByRole('link', { name: 'About' }).getAttribute('aria-current')).toBe('page');
    expect(document.activeElement?.tagName).toBe('H1');
  });
});

describe('admin route', () => {
  it('opens the admin page at #/admin and its sub-paths, without the consent', () => {
    window.location.hash = '#/admin/screenings/abc';
    renderWithProviders(<App />);
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Administration');
    // No config.json Cognito keys in this render: the page says sign-in is not configured.
    expect(screen.getByTestId('admin-not-configured')).toBeTruthy();
    expect(document.title).toBe('Administration · Papila');
  });
});
