import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeApi, fileOf, type FakeApi } from '../test/fakeApi';
import { renderWithProviders } from '../test/render';
import { ScreenPage } from './ScreenPage';

const NATURAL = { width: 1000, height: 800 };
/** jsdom lays nothing out: pretend the photo is shown at half its size. */
const SHOWN = { x: 0, y: 0, top: 0, left: 0, right: 500, bottom: 400, width: 500, height: 400, toJSON: () => ({}) };

beforeEach(() => {
  URL.createObjectURL = vi.fn(() => 'blob:photo');
  URL.revokeObjectURL = vi.fn();
  vi.spyOn(Element.prototype, 'getBoundingClientRect').mockReturnValue(SHOWN as DOMRect);
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue({ drawImage: vi.fn() } as unknown as CanvasRenderingContext2D);
  vi.spyOn(HTMLCanvasElement.prototype, 'toDataURL').mockReturnValue('data:image/jpeg;base64,c21hbGw=');
});

afterEach(() => {
  vi.restoreAllMocks();
});

async function choosePhotoAndLoadIt(api: FakeApi) {
  renderWithProviders(<ScreenPage consent="accepted" onReviewConsent={() => undefined} />, api);
  const user = userEvent.setup({ applyAccept: false });
  await user.upload(screen.getByTestId('file-input'), fileOf('right_eye.png', 'image/png', 123_456));
  const image = (await screen.findByTestId('crop-image')) as HTMLImageElement;
  Object.defineProperty(image, 'naturalWidth', { value: NATURAL.width });
  Object.defineProperty(image, 'naturalHeight', { value: NATURAL.height });
  fireEvent.load(image);
  return user;
}

describe('ScreenPage', () => {
  it('starts the box where the locator says and sends it in photo pixels', async () => {
    const api = fakeApi();
    const user = await choosePhotoAndLoadIt(api);

    const cropStep = screen.getByTestId('crop-step');
    await waitFor(() => expect(cropStep.dataset.cropOrigin).toBe('locator'));
    expect(api.locateDisc).toHaveBeenCalledWith('c21hbGw=', 1000, 800);
    expect(cropStep.dataset).toMatchObject({ cropX: '100', cropY: '50', cropSize: '200' });

    // One arrow press moves the box one screen pixel, which is two photo pixels here.
    const selection = screen.getByLabelText(/Crop square/);
    selection.focus();
    await user.keyboard('{ArrowRight}');
    await waitFor(() => expect(cropStep.dataset.cropX).toBe('102'));

    await user.click(screen.getByTestId('submit-crop'));
    const result = await screen.findByTestId('result-view');

    expect(api.createScreening).toHaveBeenCalledWith({
      filename: 'right_eye.png',
      content_type: 'image/png',
      size: 123_456,
      consent: true,
      crop: { x: 102, y: 50, size: 200 },
    });
    expect(api.uploadToPresignedPost).toHaveBeenCalledTimes(1);
    expect(api.getScreening).toHaveBeenCalledWith('id-1');
    expect(within(result).getByTestId('probability-percent').textContent).toBe('91%');
    expect(within(result).getByRole('meter').getAttribute('aria-valuenow')).toBe('91');
    expect(within(result).getByTestId('result-label').textContent).toBe('Signs of glaucoma');
    expect(within(result).getByTestId('result-model-version').textContent).toBe('vgg19-test');
    expect(within(result).getByTestId('result-crop').getAttribute('src')).toMatch(/^http:\/\/api\.test\/api\/screenings\/id-1\/crop\?v=/);
    expect(document.querySelector('[data-screening-id]')?.getAttribute('data-screening-id')).toBe('id-1');
    expect(screen.getByTestId('feedback-form')).toBeTruthy();
  });

  it('falls back to a centred box when there is no locator', async () => {
    const api = fakeApi({ locateDisc: vi.fn(async () => Promise.reject(new Error('404'))) });
    await choosePhotoAndLoadIt(api);
    const cropStep = screen.getByTestId('crop-step');
    await waitFor(() => expect(cropStep.dataset.cropOrigin).toBe('centre'));
    expect(cropStep.dataset).toMatchObject({ cropX: '340', cropY: '240', cropSize: '320' });
  });

  it('sends no crop when Papila is to find the disc', async () => {
    const api = fakeApi();
    const user = await choosePhotoAndLoadIt(api);
    await user.click(screen.getByTestId('submit-auto'));
    await screen.findByTestId('result-view');
    expect(api.createScreening).toHaveBeenCalledTimes(1);
    expect(api.createScreening.mock.calls[0]?.[0]).not.toHaveProperty('crop');
  });

  it("shows the API's message for a rejected photo and lets the person try again", async () => {
    const api = fakeApi({
      getScreening: vi.fn(async () => ({
        id: 'id-1',
        status: 'rejected' as const,
        error: { code: 'not_fundus', message: 'This does not look like a fundus photo.' },
      })),
    });
    const user = await choosePhotoAndLoadIt(api);
    await user.click(screen.getByTestId('submit-auto'));
    expect((await screen.findByTestId('error-message')).textContent).toBe('This does not look like a fundus photo.');
    await user.click(screen.getByTestId('try-again'));
    expect(await screen.findByTestId('upload-step')).toBeTruthy();
  });

  it('shows the API error when the screening cannot even start', async () => {
    const { ApiError } = await import('../api/client');
    const api = fakeApi({
      createScreening: vi.fn(async () => Promise.reject(new ApiError(400, 'bad_type', 'The file type does not match its extension.'))),
    });
    const user = await choosePhotoAndLoadIt(api);
    await user.click(screen.getByTestId('submit-auto'));
    expect((await screen.findByTestId('error-message')).textContent).toBe('The file type does not match its extension.');
    expect(api.uploadToPresignedPost).not.toHaveBeenCalled();
  });

  it('reruns with an adjusted crop', async () => {
    const api = fakeApi();
    const user = await choosePhotoAndLoadIt(api);
    await waitFor(() => expect(screen.getByTestId('crop-step').dataset.cropOrigin).toBe('locator'));
    await user.click(screen.getByTestId('submit-crop'));
    await user.click(await screen.findByTestId('rerun'));

    const image = (await screen.findByTestId('crop-image')) as HTMLImageElement;
    Object.defineProperty(image, 'naturalWidth', { value: NATURAL.width });
    Object.defineProperty(image, 'naturalHeight', { value: NATURAL.height });
    fireEvent.load(image);
    const cropStep = screen.getByTestId('crop-step');
    // The box starts from the result's crop; no "find the disc" on a rerun.
    await waitFor(() => expect(cropStep.dataset.cropOrigin).toBe('previous'));
    expect(screen.queryByTestId('submit-auto')).toBeNull();
    screen.getByLabelText(/Crop square/).focus();
    await user.keyboard('{ArrowDown}');
    await waitFor(() => expect(cropStep.dataset.cropY).toBe('52'));
    await user.click(screen.getByTestId('submit-crop'));

    await screen.findByTestId('result-view');
    expect(api.rerunScreening).toHaveBeenCalledWith('id-1', { x: 100, y: 52, size: 200 });
    expect(api.createScreening).toHaveBeenCalledTimes(1);
  });

  it('asks for nothing before consent is given', () => {
    const onReviewConsent = vi.fn();
    renderWithProviders(<ScreenPage consent="declined" onReviewConsent={onReviewConsent} />);
    expect(screen.queryByTestId('upload-step')).toBeNull();
    fireEvent.click(screen.getByRole('button', { name: 'Read the consent again' }));
    expect(onReviewConsent).toHaveBeenCalled();
  });
});
