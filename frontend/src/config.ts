/**
 * The API base URL is configuration, read at run time so one build serves every deployment:
 * `config.json` beside index.html first, then the build-time VITE_API_BASE_URL, then same origin.
 */
export async function loadApiBaseUrl(fetchImpl: typeof fetch = fetch.bind(globalThis)): Promise<string> {
  try {
    const response = await fetchImpl('config.json', { cache: 'no-store' });
    if (response.ok) {
      const config = (await response.json()) as { apiBaseUrl?: unknown };
      if (typeof config.apiBaseUrl === 'string') return config.apiBaseUrl.replace(/\/+$/, '');
    }
  } catch {
    // No config.json (or not JSON): use the fallbacks below.
  }
  const fromBuild = import.meta.env.VITE_API_BASE_URL as string | undefined;
  return (fromBuild ?? '').replace(/\/+$/, '');
}
