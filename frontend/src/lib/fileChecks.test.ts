import { describe, expect, it } from 'vitest';
import { MAX_UPLOAD_BYTES, checkFile, contentTypeFor } from './fileChecks';

describe('checkFile', () => {
  it('accepts JPEG, PNG and TIFF up to 20 MiB', () => {
    expect(checkFile({ name: 'eye.JPG', type: 'image/jpeg', size: 1000 })).toBeNull();
    expect(checkFile({ name: 'eye.png', type: 'image/png', size: MAX_UPLOAD_BYTES })).toBeNull();
    // Some systems give TIFF files no type: the extension decides.
    expect(checkFile({ name: 'eye.tiff', type: '', size: 1000 })).toBeNull();
  });

  it('refuses other types, and types that contradict the extension', () => {
    expect(checkFile({ name: 'eye.gif', type: 'image/gif', size: 1000 })).toBe('wrong_type');
    expect(checkFile({ name: 'report.pdf', type: 'application/pdf', size: 1000 })).toBe('wrong_type');
    expect(checkFile({ name: 'eye.png', type: 'image/jpeg', size: 1000 })).toBe('wrong_type');
    expect(checkFile({ name: 'noextension', type: 'image/png', size: 1000 })).toBe('wrong_type');
  });

  it('refuses files over 20 MiB and empty files', () => {
    expect(checkFile({ name: 'eye.png', type: 'image/png', size: MAX_UPLOAD_BYTES + 1 })).toBe('too_large');
    expect(checkFile({ name: 'eye.png', type: 'image/png', size: 0 })).toBe('empty');
  });

  it('names the content type the API expects for the extension', () => {
    expect(contentTypeFor('a.jpeg')).toBe('image/jpeg');
    expect(contentTypeFor('a.TIF')).toBe('image/tiff');
    expect(contentTypeFor('a.bmp')).toBeNull();
  });
});
