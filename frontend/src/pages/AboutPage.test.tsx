import { fireEvent, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/client';
import { LANGUAGE_STORAGE_KEY } from '../i18n/I18nContext';
import { fakeApi } from '../test/fakeApi';
import { renderWithProviders } from '../test/render';
import { AboutPage } from './AboutPage';

describe('AboutPage', () => {
  it('shows the measured performance from GET /api/model', async () => {
    const api = fakeApi({
      getModelInfo: vi.fn(async () => ({
        model_version: 'vgg19-2026-11-25-abc123',
        threshold: 0.42,
        input_size: [224, 224],
        metrics: { auc: 0.9123, sensitivity: 0.85, specificity: 0.8, n: 488, f1: 0.77 },
        limits: ['Trained on one clinic’s camera.'],
      })),
    });
    renderWithProviders(<AboutPage />, api);
    const card = screen.getByTestId('model-card');
    expect(await screen.findByText('vgg19-2026-11-25-abc123')).toBeTruthy();
    expect(card.querySelector('[data-field="auc"] dd')?.textContent).toBe('0.912');
    expect(card.querySelector('[data-field="sensitivity"] dd')?.textContent).toBe('85.0%');
    expect(card.querySelector('[data-field="threshold"] dd')?.textContent).toBe('42.0%');
    expect(card.querySelector('[data-field="input_size"] dd')?.textContent).toBe('224 × 224');
    // A figure we have no words for is still shown, under its own name.
    expect(card.querySelector('[data-field="f1"] dt')?.textContent).toBe('f1');
    expect(screen.getByTestId('model-limits').textContent).toMatch(/one clinic/);
  });

  it('reads the model card as papila writes it (figures per group, descriptive fields)', async () => {
    const api = fakeApi({
      getModelInfo: vi.fn(async () => ({
        model_version: 'vgg19bn-2026-11-25-abc12345',
        architecture: 'VGG19 (16 conv + batch norm)',
        input_size: 224,
        threshold: 0.38,
        metrics: {
          cv: { auc: 0.9312, accuracy: 0.86, sensitivity_at_85_specificity: 0.88 },
          folds: [{ auc: 0.9 }, { auc: 0.95 }],
          int8_vs_float: { auc_float: 0.9312, auc_int8: 0.9301 },
        },
        training_data: { name: 'RIM-ONE DL', n: 311 },
        intended_use: 'Screening aid for research.',
        limits: ['expects optic-disc crops', 'trained on one hospital'],
        trained_at: '2026-11-25T10:00:00Z',
      })),
    });
    renderWithProviders(<AboutPage />, api);
    const figures = await screen.findByTestId('model-figures');
    expect(figures.querySelector('[data-field="cv.auc"] dt')?.textContent).toBe('Cross-validation · Area under the ROC curve (AUC)');
    expect(figures.querySelector('[data-field="cv.auc"] dd')?.textContent).toBe('0.931');
    expect(figures.querySelector('[data-field="cv.sensitivity_at_85_specificity"] dd')?.textContent).toBe('88.0%');
    expect(figures.querySelector('[data-field="int8_vs_float.auc_int8"] dd')?.textContent).toBe('0.930');
    // Per-fold records are not one figure each.
    expect(figures.querySelector('[data-field="folds"]')).toBeNull();
    const details = screen.getByTestId('model-details');
    expect(details.querySelector('[data-field="architecture"] dd')?.textContent).toBe('VGG19 (16 conv + batch norm)');
    expect(details.querySelector('[data-field="training_data.n"] dt')?.textContent).toBe('Training data · Photos');
    expect(details.querySelector('[data-field="intended_use"] dd')?.textContent).toBe('Screening aid for research.');
    expect(screen.getByTestId('model-limits').querySelectorAll('li')).toHaveLength(2);
  });

  it('copes with a card without metrics', async () => {
    const api = fakeApi({ getModelInfo: vi.fn(async () => ({})) });
    renderWithProviders(<AboutPage />, api);
    expect(await screen.findByText('The model card has no measured figures yet.')).toBeTruthy();
  });

  it('reads figures at the top level when there is no metrics object', async () => {
    const api = fakeApi({ getModelInfo: vi.fn(async () => ({ model_version: 'm1', auc: 0.8, specificity: 0.9 })) });
    renderWithProviders(<AboutPage />, api);
    expect(await screen.findByText('0.800')).toBeTruthy();
    expect(screen.getByText('90.0%')).toBeTruthy();
  });

  it('shows the plots the model card lists, served by the API, with words for each', async () => {
    const api = fakeApi({
      getModelInfo: vi.fn(async () => ({
        model_version: 'm2',
        metrics: { cv: { auc: 0.93 } },
        training_data: { n: 311 },
        plots: { roc: 'roc.png', calibration: 'calibration.png', cdr: 'cdr scatter.png', extra: 'extra.png', bad: '../x.txt' },
      })),
    });
    renderWithProviders(<AboutPage />, api);
    const section = await screen.findByTestId('model-plots');
    const images = Array.from(section.querySelectorAll('img'));
    expect(images.map((img) => img.getAttribute('src'))).toEqual([
      'http://api.test/api/model/plots/roc.png',
      'http://api.test/api/model/plots/calibration.png',
      'http://api.test/api/model/plots/extra.png',
    ]);
    expect(screen.getByRole('img', { name: /^ROC curves/ })).toBeTruthy();
    expect(screen.getByRole('img', { name: /^Calibration plot/ })).toBeTruthy();
    expect(screen.getByRole('img', { name: 'Model card plot: extra' })).toBeTruthy();
    // File names are not listed among the card's details.
    const details = screen.getByTestId('model-details');
    expect(details.querySelector('[data-field="training_data.n"]')).toBeTruthy();
    expect(details.querySelector('[data-field^="plots"]')).toBeNull();
  });

  it('describes the plots in Spanish too', async () => {
    localStorage.setItem(LANGUAGE_STORAGE_KEY, 'es');
    try {
      const api = fakeApi({ getModelInfo: vi.fn(async () => ({ metrics: { auc: 0.9 }, plots: { cdr_scatter: 'cdr.png' } })) });
      renderWithProviders(<AboutPage />, api);
      expect(await screen.findByRole('img', { name: /^Gráfico de dispersión de la relación copa\/disco/ })).toBeTruthy();
    } finally {
      localStorage.removeItem(LANGUAGE_STORAGE_KEY);
    }
  });

  it('drops a plot that fails to load', async () => {
    const api = fakeApi({ getModelInfo: vi.fn(async () => ({ metrics: { auc: 0.9 }, plots: { roc: 'roc.png' } })) });
    renderWithProviders(<AboutPage />, api);
    const img = await screen.findByRole('img', { name: /^ROC curves/ });
    fireEvent.error(img);
    expect(screen.queryByRole('img', { name: /^ROC curves/ })).toBeNull();
  });

  it('says so when the card cannot be loaded', async () => {
    const api = fakeApi({ getModelInfo: vi.fn(async () => Promise.reject(new ApiError(503, 'down', 'The service is down.'))) });
    renderWithProviders(<AboutPage />, api);
    expect(await screen.findByText(/The service is down\./)).toBeTruthy();
  });
});
