import { useEffect, useState } from 'react';

export type Route = 'screen' | 'guide' | 'about' | 'admin' | 'not_found';

/**
 * Hash routes (#/guide) because the built SPA is served as plain static files
 * (python -m http.server, a bucket) where a deep link like /guide would 404.
 */
export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/\/+$/, '') || '/';
  // The admin pages have their own sub-paths (#/admin/screenings/<id>).
  if (path.startsWith('/admin/')) return 'admin';
  switch (path) {
    case '/':
      return 'screen';
    case '/guide':
      return 'guide';
    case '/about':
      return 'about';
    case '/admin':
      return 'admin';
    default:
      return 'not_found';
  }
}

export const ROUTE_HREF: Record<Exclude<Route, 'not_found'>, string> = {
  screen: '#/',
  guide: '#/guide',
  about: '#/about',
  admin: '#/admin',
};

export function useHashRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
