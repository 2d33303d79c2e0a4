/**
 * Runtime configuration, read at run time so one build serves every deployment: `config.json`
 * beside index.html first, then the build-time VITE_* variables, then same origin.
 *
 * `config.json` keys:
 * - `apiBaseUrl`: the HTTP API (`http://127.0.0.1:8000`); empty or absent means this page's origin.
 * - `cognitoEndpoint`: the Cognito user-pool service endpoint that admin sign-in POSTs to
 *   (`https://cognito-idp.<region>.amazonaws.com/` in AWS, moto's server locally). Optional.
 * - `cognitoClientId`: the user pool's app client id (no secret; USER_PASSWORD_AUTH enabled). Optional.
 * Without both Cognito keys the admin page says that sign-in is not configured.
 */
export interface RuntimeConfig {
  apiBaseUrl: string;
  cognitoEndpoint?: string;
  cognitoClientId?: string;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

export async function loadRuntimeConfig(fetchImpl: typeof fetch = fetch.bind(globalThis)): Promise<RuntimeConfig> {
  let fromFile: Record<string, unknown> = {};
  try {
    const response = await fetchImpl('config.json', { cache: 'no-store' });
    if (response.ok) {
      const parsed: unknown = await response.json();
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) fromFile = parsed as Record<string, unknown>;
    }
  } catch {
    // No config.json (or not JSON): use the fallbacks below.
  }
  const env = import.meta.env;
  const apiBaseUrl =
    typeof fromFile.apiBaseUrl === 'string' ? fromFile.apiBaseUrl : ((env.VITE_API_BASE_URL as string | undefined) ?? '');
  const cognitoEndpoint = nonEmpty(fromFile.cognitoEndpoint) ?? nonEmpty(env.VITE_COGNITO_ENDPOINT);
  const cognitoClientId = nonEmpty(fromFile.cognitoClientId) ?? nonEmpty(env.VITE_COGNITO_CLIENT_ID);
  return {
    apiBaseUrl: apiBaseUrl.replace(/\/+$/, ''),
    ...(cognitoEndpoint ? { cognitoEndpoint } : {}),
    ...(cognitoClientId ? { cognitoClientId } : {}),
  };
}

/** The API base URL alone (see loadRuntimeConfig). */
export async function loadApiBaseUrl(fetchImpl: typeof fetch = fetch.bind(globalThis)): Promise<string> {
  return (await loadRuntimeConfig(fetchImpl)).apiBaseUrl;
}
