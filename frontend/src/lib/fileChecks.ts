/** The contract's limit: 20 MiB, which is also what the presigned POST policy allows. */
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;

/** Accepted types and the extensions that must go with them (the API checks they agree). */
export const ACCEPTED_TYPES: Record<string, string[]> = {
  'image/jpeg': ['.jpg', '.jpeg'],
  'image/png': ['.png'],
  'image/tiff': ['.tif', '.tiff'],
};

export type FileProblem = 'wrong_type' | 'too_large' | 'empty';

/** The content type the API expects for this file name, or null for an extension it refuses. */
export function contentTypeFor(filename: string): string | null {
  const dot = filename.lastIndexOf('.');
  if (dot < 0) return null;
  const extension = filename.slice(dot).toLowerCase();
  for (const [type, extensions] of Object.entries(ACCEPTED_TYPES)) {
    if (extensions.includes(extension)) return type;
  }
  return null;
}

/** Why a chosen file cannot be screened, or null when it can; decided before any upload. */
export function checkFile(file: { name: string; size: number; type: string }): FileProblem | null {
  const expectedType = contentTypeFor(file.name);
  if (!expectedType) return 'wrong_type';
  // Browsers may leave the type empty (TIFF on some systems); when they give one it must agree.
  if (file.type && file.type !== expectedType && !(expectedType === 'image/jpeg' && file.type === 'image/pjpeg')) {
    return 'wrong_type';
  }
  if (file.size === 0) return 'empty';
  if (file.size > MAX_UPLOAD_BYTES) return 'too_large';
  return null;
}
