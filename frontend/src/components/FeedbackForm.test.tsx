import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/client';
import { fakeApi } from '../test/fakeApi';
import { renderWithProviders } from '../test/render';
import { FeedbackForm } from './FeedbackForm';

describe('FeedbackForm', () => {
  it('does not send until "was this right" is answered, and says why', async () => {
    const { api } = renderWithProviders(<FeedbackForm screeningId="id-1" />);
    await userEvent.click(screen.getByRole('button', { name: 'Save answers' }));
    expect(screen.getByText("Choose yes, no or don't know.")).toBeTruthy();
    expect(api.putFeedback).not.toHaveBeenCalled();
    expect(document.activeElement?.id).toBe('fb-correct-yes');
  });

  it('marks an out-of-range age on its field and sends nothing', async () => {
    const { api } = renderWithProviders(<FeedbackForm screeningId="id-1" />);
    await userEvent.click(screen.getByRole('radio', { name: 'Yes' }));
    await userEvent.type(screen.getByLabelText('Age (years)'), '130');
    await userEvent.type(screen.getByLabelText('Cup-to-disc ratio (0 to 1)'), '1.5');
    await userEvent.click(screen.getByRole('button', { name: 'Save answers' }));

    const age = screen.getByLabelText('Age (years)');
    expect(age.getAttribute('aria-invalid')).toBe('true');
    expect(document.getElementById(age.getAttribute('aria-describedby') ?? '')?.textContent).toMatch(/0 to 120/);
    expect(screen.getByLabelText('Cup-to-disc ratio (0 to 1)').getAttribute('aria-invalid')).toBe('true');
    expect(document.activeElement).toBe(age);
    expect(api.putFeedback).not.toHaveBeenCalled();
  });

  it('saves valid answers, leaving out empty fields, and confirms', async () => {
    const { api } = renderWithProviders(<FeedbackForm screeningId="id-1" />);
    await userEvent.click(screen.getByRole('radio', { name: 'Yes' }));
    await userEvent.type(screen.getByLabelText('Age (years)'), '63');
    await userEvent.selectOptions(screen.getByLabelText('Eye'), 'right');
    await userEvent.selectOptions(screen.getByLabelText('Diagnosis, if known'), 'glaucoma');
    await userEvent.selectOptions(screen.getByLabelText('Family history of glaucoma'), 'yes');
    await userEvent.click(screen.getByRole('button', { name: 'Save answers' }));

    expect(await screen.findByTestId('feedback-saved')).toBeTruthy();
    expect(api.putFeedback).toHaveBeenCalledWith('id-1', {
      diagnosis_correct: true,
      true_label: 'glaucoma',
      metadata: { age: 63, eye: 'right', family_history: true },
    });
  });

  it('sends the subject pseudonym and marks one with a space', async () => {
    const { api } = renderWithProviders(<FeedbackForm screeningId="id-1" />);
    await userEvent.click(screen.getByRole('radio', { name: 'Yes' }));
    const subject = screen.getByLabelText('Subject / patient pseudonym');
    await userEvent.type(subject, 'P 017');
    await userEvent.click(screen.getByRole('button', { name: 'Save answers' }));
    expect(subject.getAttribute('aria-invalid')).toBe('true');
    expect(document.activeElement).toBe(subject);
    expect(api.putFeedback).not.toHaveBeenCalled();

    await userEvent.clear(subject);
    await userEvent.type(subject, 'P-017');
    await userEvent.click(screen.getByRole('button', { name: 'Save answers' }));
    expect(await screen.findByTestId('feedback-saved')).toBeTruthy();
    expect(api.putFeedback).toHaveBeenCalledWith('id-1', { diagnosis_correct: true, metadata: { subject_id: 'P-017' } });
  });

  it("shows the API's message when saving fails", async () => {
    const api = fakeApi({
      putFeedback: vi.fn(async () => Promise.reject(new ApiError(409, 'not_done', 'Feedback can be given once the screening is done.'))),
    });
    renderWithProviders(<FeedbackForm screeningId="id-1" />, api);
    await userEvent.click(screen.getByRole('radio', { name: "Don't know" }));
    await userEvent.click(screen.getByRole('button', { name: 'Save answers' }));
    await waitFor(() => expect(screen.getByTestId('feedback-error').textContent).toBe('Feedback can be given once the screening is done.'));
    expect(api.putFeedback).toHaveBeenCalledWith('id-1', { diagnosis_correct: null });
  });
});
