import { fireEvent, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { fileOf } from '../test/fakeApi';
import { renderWithProviders } from '../test/render';
import { UploadStep } from './UploadStep';

function setup() {
  const onFileAccepted = vi.fn();
  renderWithProviders(<UploadStep onFileAccepted={onFileAccepted} />);
  // applyAccept off: the browser's picker filter is not what is tested, the page's own check is.
  const user = userEvent.setup({ applyAccept: false });
  const input = screen.getByTestId('file-input') as HTMLInputElement;
  return { onFileAccepted, user, input };
}

describe('UploadStep', () => {
  it('passes on a JPEG under 20 MB', async () => {
    const { onFileAccepted, user, input } = setup();
    const photo = fileOf('left_eye.jpg', 'image/jpeg', 2_483_112);
    await user.upload(input, photo);
    await waitFor(() => expect(onFileAccepted).toHaveBeenCalledTimes(1));
    expect(onFileAccepted.mock.calls[0]?.[0]).toMatchObject({ name: 'left_eye.jpg' });
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('refuses a file of the wrong type with a sentence, before any upload', async () => {
    const { onFileAccepted, user, input } = setup();
    await user.upload(input, fileOf('scan.gif', 'image/gif'));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toMatch(/JPEG, PNG or TIFF/);
    expect(onFileAccepted).not.toHaveBeenCalled();
  });

  it('refuses a photo over 20 MB', async () => {
    const { onFileAccepted, user, input } = setup();
    await user.upload(input, fileOf('huge.png', 'image/png', 20 * 1024 * 1024 + 1));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toMatch(/larger than 20 MB/);
    expect(onFileAccepted).not.toHaveBeenCalled();
  });

  it('refuses a wrong file dropped on the zone', async () => {
    const { onFileAccepted } = setup();
    const pdf = fileOf('report.pdf', 'application/pdf');
    fireEvent.drop(screen.getByTestId('dropzone'), {
      dataTransfer: { files: [pdf], items: [{ kind: 'file', type: pdf.type, getAsFile: () => pdf }], types: ['Files'] },
    });
    expect((await screen.findByRole('alert')).textContent).toMatch(/cannot be screened/);
    expect(onFileAccepted).not.toHaveBeenCalled();
  });

  it('clears the refusal once a good photo is chosen', async () => {
    const { onFileAccepted, user, input } = setup();
    await user.upload(input, fileOf('scan.gif', 'image/gif'));
    await screen.findByRole('alert');
    await user.upload(input, fileOf('eye.png', 'image/png'));
    await waitFor(() => expect(onFileAccepted).toHaveBeenCalledTimes(1));
    expect(screen.queryByRole('alert')).toBeNull();
  });
});
