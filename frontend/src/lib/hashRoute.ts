import { useEffect, useState } from 'react';

export type Route = 'screen' | 'guide' | 'about' | 'admin' | 'signup' | 'verify' | 'signin' | 'forgot' | 'my' | 'not_found';

/** The clinician-account pages (src/account/). */
export const ACCOUNT_ROUTES = ['signup', 'verify', 'signin', 'forgot'] as const;
export type AccountRoute = (typeof ACCOUNT_ROUTES)[number];

/**
 * Hash routes (#/guide) because the built SPA is served as plain static files
 * (python -m http.server, a bucket) where a deep link like /guide would 404.
 */
export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/\/+$/, '') || '/';
  // The admin pages have their own sub-paths (#/admin/screenings/<id>).
  if (path.startsWith('/admin/')) return 'admin';
  // My screenings, and one of them (#/my/<id>).
  if (path.startsWith('/my/')) return 'my';
  switch (path) {
    case '/':
      return 'screen';
    case '/guide':
      return 'guide';
    case '/about':
      return 'about';
    case '/admin':
      return 'admin';
    case '/signup':
      return 'signup';
    case '/verify':
      return 'verify';
    case '/signin':
      return 'signin';
    case '/forgot-password':
      return 'forgot';
    case '/my':
      return 'my';
    default:
      return 'not_found';
  }
}

export const ROUTE_HREF: Record<Exclude<Route, 'not_found'>, string> = {
  screen: '#/',
  guide: '#/guide',
  about: '#/about',
  admin: '#/admin',
  signup: '#/signup',
  verify: '#/verify',
  signin: '#/signin',
  forgot: '#/forgot-password',
  my: '#/my',
};

/** `#/my/<id>` → the id; anything else → null. */
export function myScreeningId(hash: string): string | null {
  const match = /^#?\/my\/([^/?#]+)\/?$/.exec(hash);
  if (!match?.[1]) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null;
  }
}

export function myScreeningHref(id: string): string {
  return `#/my/${encodeURIComponent(id)}`;
}

export function useHashRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
