import { useEffect, useState } from 'react';
import { useApi } from '../api/ApiContext';

interface Source {
  /** What <img src> gets: the URL itself, or an object URL of the fetched file; undefined while loading. */
  src?: string;
  failed: boolean;
}

/**
 * An API image for <img>. An <img> cannot send headers, and the files of a screening that belongs
 * to an account are only served with its token: when `authorized`, the file is fetched with the
 * screening's headers (api.fetchBlob) into an object URL (revoked when no longer shown); otherwise
 * the URL is used as it is, as for every anonymous screening.
 */
export function useAuthorizedSource(url: string | null, screeningId: string | undefined, authorized: boolean): Source {
  const api = useApi();
  const key = `${authorized ? 'auth' : 'plain'} ${screeningId ?? ''} ${url ?? ''}`;
  const [fetched, setFetched] = useState<Source & { key: string }>({ key: '', failed: false });

  useEffect(() => {
    if (!authorized || !url) return;
    let live = true;
    let objectUrl: string | null = null;
    api.fetchBlob(url, screeningId).then(
      (blob) => {
        if (!live) return;
        objectUrl = URL.createObjectURL(blob);
        setFetched({ key, src: objectUrl, failed: false });
      },
      () => {
        if (live) setFetched({ key, failed: true });
      },
    );
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [api, url, screeningId, authorized, key]);

  if (!url) return { failed: true };
  if (!authorized) return { src: url, failed: false };
  return fetched.key === key ? { src: fetched.src, failed: fetched.failed } : { failed: false };
}
