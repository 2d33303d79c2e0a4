import { fireEvent, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { DONE_SCREENING } from '../test/fakeApi';
import { renderWithProviders } from '../test/render';
import { ProgressView } from './ProgressView';
import { ResultView } from './ResultView';

describe('ProgressView', () => {
  it('shows upload progress while uploading', () => {
    renderWithProviders(<ProgressView stage="uploading" uploadFraction={0.4} />);
    expect(screen.getByRole('progressbar').getAttribute('value')).toBe('40');
    expect(screen.getByText('Uploaded 40%')).toBeTruthy();
  });

  it('marks the real stage as current', () => {
    const { rerender } = renderWithProviders(<ProgressView stage="queued" uploadFraction={1} />);
    const current = () => document.querySelector('[aria-current="step"]')?.textContent;
    expect(current()).toMatch(/Waiting in line/);
    rerender(<ProgressView stage="processing" uploadFraction={1} />);
    expect(current()).toMatch(/Analysing/);
    expect(screen.getByRole('status').textContent).toBe('Analysing the photo.');
    expect(screen.queryByRole('progressbar')).toBeNull();
  });
});

describe('ResultView', () => {
  it('shows the heat map once it loads and hides it when it fails', () => {
    renderWithProviders(<ResultView screening={DONE_SCREENING} onNewScreening={vi.fn()} />);
    const heatmap = screen.getByTestId('result-heatmap');
    expect(heatmap.closest('figure')?.hidden).toBe(true);
    fireEvent.load(heatmap);
    expect(heatmap.closest('figure')?.hidden).toBe(false);
    fireEvent.error(heatmap);
    expect(screen.queryByTestId('result-heatmap')).toBeNull();
    // No rerun offered when the photo cannot be shown again.
    expect(screen.queryByTestId('rerun')).toBeNull();
  });

  it('shows a normal result with its referral wording and threshold', () => {
    const normal = {
      ...DONE_SCREENING,
      result: { ...DONE_SCREENING.result!, probability_glaucoma: 0.123, label: 'normal', referral: 'No referral needed.' },
    };
    renderWithProviders(<ResultView screening={normal} onRerun={vi.fn()} onNewScreening={vi.fn()} />);
    expect(screen.getByTestId('result-label').textContent).toBe('No signs of glaucoma');
    expect(screen.getByTestId('result-referral').textContent).toBe('No referral needed.');
    expect(screen.getByRole('meter').getAttribute('aria-valuetext')).toBe('12% probability of glaucoma; referral threshold 42%');
    expect(screen.getByTestId('rerun')).toBeTruthy();
  });

  it('shows the estimated cup-to-disc ratio with its measured error, and omits it when absent', () => {
    const withCdr = {
      ...DONE_SCREENING,
      result: { ...DONE_SCREENING.result!, cdr: { vertical: 0.712, mae_vs_experts: 0.071 } },
    };
    const { unmount } = renderWithProviders(<ResultView screening={withCdr} onRerun={vi.fn()} onNewScreening={vi.fn()} />);
    expect(screen.getByTestId('result-cdr').textContent).toBe('0.71 (± 0.07 typical error against experts)');
    unmount();
    renderWithProviders(<ResultView screening={DONE_SCREENING} onRerun={vi.fn()} onNewScreening={vi.fn()} />);
    expect(screen.queryByTestId('result-cdr')).toBeNull();
  });
});
