// Thin client for wangge's public HTTP API, plus the login session kept in sessionStorage.
// Every request goes to the page's own origin: the map page never talks to any other host.

const SESSION_KEY = 'wangge.session';

/** Error carrying wangge's stable JSON error code ({code, message}). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

async function request(path, { method = 'GET', body, signal, auth = true } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const session = getSession();
  if (auth && session) headers.authorization = `Bearer ${session.token}`;
  const res = await fetch(path, {
    method, headers, signal,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, json?.code, json?.message);
  return json;
}

/** GET /healthz; resolves to {ok, body} without throwing on 503. */
export async function health() {
  const res = await fetch('/healthz');
  return { ok: res.ok, body: await res.json().catch(() => null) };
}

export const layerVersions = () => request('/api/layers', { auth: false });

/**
 * GET /api/layers/{layer} as GeoJSON. `bbox` is [minLon, minLat, maxLon, maxLat] (WGS84) or null;
 * `at` an ISO date (YYYY-MM-DD) or null for today.
 */
export function layer(name, { bbox = null, at = null, signal } = {}) {
  const q = new URLSearchParams();
  if (bbox) q.set('bbox', bbox.map((v) => v.toFixed(6)).join(','));
  if (at) q.set('at', at);
  const qs = q.toString();
  return request(`/api/layers/${name}${qs ? `?${qs}` : ''}`, { signal, auth: false });
}

export const basemap = (kind) => request(`/api/basemap/${kind}`, { auth: false });

// --- session -------------------------------------------------------------------------------

/** The stored session {token, expires_at, user} or null. */
export function getSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY));
    if (!s?.token) return null;
    if (s.expires_at && Date.parse(s.expires_at) <= Date.now()) {
      sessionStorage.removeItem(SESSION_KEY);
      return null;
    }
    return s;
  } catch {
    return null;
  }
}

export async function login(username, password) {
  const r = await request('/api/auth/login', { method: 'POST', body: { username, password }, auth: false });
  const session = { token: r.token, expires_at: r.expires_at, user: r.user };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

export async function logout() {
  try {
    if (getSession()) await request('/api/auth/logout', { method: 'POST' });
  } finally {
    sessionStorage.removeItem(SESSION_KEY);
  }
}

/** Re-checks a stored token with GET /api/auth/me; drops it if the server refuses it. */
export async function refreshSession() {
  const s = getSession();
  if (!s) return null;
  try {
    const user = await request('/api/auth/me');
    const next = { ...s, user };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(next));
    return next;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) sessionStorage.removeItem(SESSION_KEY);
    return e instanceof ApiError && e.status === 401 ? null : s;
  }
}

const unitCache = new Map();
/** The responsible unit {code, name, kind} (needs a login); null when unknown or not allowed. */
export async function unit(code) {
  if (!code || !getSession()) return null;
  if (!unitCache.has(code)) {
    unitCache.set(code, request(`/api/units/${encodeURIComponent(code)}`).catch(() => null));
  }
  return unitCache.get(code);
}
