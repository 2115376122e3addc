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

export async function request(path, { method = 'GET', body, signal, auth = true, contentType } = {}) {
  const headers = {};
  const raw = body instanceof Blob;
  if (body !== undefined) headers['content-type'] = contentType ?? (raw ? body.type : 'application/json');
  const session = getSession();
  if (auth && session) headers.authorization = `Bearer ${session.token}`;
  const res = await fetch(path, {
    method, headers, signal,
    body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
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

/** Drops the stored session (without telling the server). */
/**
 * The session when it belongs to the city's staff, else null. A volunteer (市民找差团) is logged in
 * but sees the city's cases as the public does: only their own reports (GET /api/volunteer/reports).
 */
export function staffSession() {
  const s = getSession();
  return s && s.user?.role !== 'volunteer' ? s : null;
}

export function forgetSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

/** Revokes a token on the server (POST /api/auth/logout with that token). */
export async function revoke(token) {
  await fetch('/api/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
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
/** The responsible unit {code, name, kind} (public); null when unknown. */
export async function unit(code) {
  if (!code) return null;
  if (!unitCache.has(code)) {
    unitCache.set(code, request(`/api/units/${encodeURIComponent(code)}`, { auth: false }).catch(() => null));
  }
  return unitCache.get(code);
}

// --- optional endpoints -----------------------------------------------------------------------

let pathsPromise = null;
/**
 * The API paths this server has, from its OpenAPI document. Endpoints added while the page was
 * being built (categories, case export, event stream, photos) are used only when listed here, so
 * an older server is never asked for them (a 404 would be logged as a console error).
 */
export function apiPaths() {
  pathsPromise ??= request('/api/openapi.json', { auth: false })
    .then((doc) => new Set(Object.keys(doc?.paths ?? {})))
    .catch(() => new Set());
  return pathsPromise;
}
export const hasPath = async (path) => (await apiPaths()).has(path);

/** GET /api/assign: the owner chain of a WGS84 point, with reasons. */
export function assign(lon, lat, { asOf = null, category = null, signal } = {}) {
  const q = new URLSearchParams({ lon: lon.toFixed(7), lat: lat.toFixed(7) });
  if (asOf) q.set('as_of', asOf);
  if (category) q.set('category', category);
  return request(`/api/assign?${q}`, { signal, auth: false });
}

/** Responsible units of a kind (department by default), for the dispatcher's unit picker. */
export const units = (kind = 'department') => request(`/api/units?kind=${encodeURIComponent(kind)}&limit=1000`);

export const getCase = (id) => request(`/api/cases/${id}`);
export const act = (id, action, extra = {}, note) =>
  request(`/api/cases/${id}/actions`, { method: 'POST', body: { action, ...extra, ...(note ? { note } : {}) } });
export const createCase = (body) => request('/api/cases', { method: 'POST', body });
/** A volunteer's report (POST /api/volunteer/reports) and their own list (newest first). */
export const createVolunteerReport = (body) => request('/api/volunteer/reports', { method: 'POST', body });
export const volunteerReports = () => request('/api/volunteer/reports?limit=200');
export const uploadPhoto = (id, stage, file) =>
  request(`/api/cases/${id}/photos?stage=${stage}`, { method: 'POST', body: file, contentType: file.type || 'image/jpeg' });

/** GET /api/cases with filters (status, grid, unit, category, queue, limit, before_id …). */
export function cases(filters = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  return request(`/api/cases?${q}`);
}
