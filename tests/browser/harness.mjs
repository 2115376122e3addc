// Shared by the browser tests: start the real wangge binary on a free loopback port, open a
// Chromium context that blocks and records every non-loopback request, and small map helpers.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.resolve(ROOT, process.env.WANGGE_BIN || 'target/debug/wangge');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOTS = path.join(ROOT, 'artifacts', 'screenshots');
// Flags as in the machine notes: without the background-networking ones Chromium tries to reach
// Google at start. A fresh profile directory is made by Playwright for every launch.
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // A second fence below Playwright's request routing: anything not on loopback (which Chromium
  // never sends through a proxy) goes to a closed local port and fails.
  '--proxy-server=http://127.0.0.1:9',
];
export const STARTUP_TIMEOUT_MS = 180_000;

export const DESKTOP = { viewport: { width: 1280, height: 800 } };
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

// --- helpers -----------------------------------------------------------------------------------

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Whether a request URL stays on this machine (data: and blob: URLs never leave the page). */
export function isLocal(url) {
  const u = new URL(url);
  if (u.protocol === 'data:' || u.protocol === 'blob:') return true;
  return LOOPBACK.has(u.hostname);
}

export async function startWangge(dir, port, env = {}) {
  const log = fs.openSync(path.join(dir, 'wangge.log'), 'w');
  // A store seeded once for the whole run (.ci/browser.sh): the server starts on a copy of it
  // instead of seeding the demo city again (a minute per file).
  const seed = process.env.WANGGE_TEST_SEED_DB;
  if (seed && !env.WANGGE_DATABASE_URL) {
    for (const suffix of ['', '-wal']) {
      if (fs.existsSync(seed + suffix)) fs.copyFileSync(seed + suffix, path.join(dir, 'wangge.db' + suffix));
    }
  }
  const child = spawn(BIN, ['serve'], {
    cwd: ROOT,
    env: {
      ...process.env,
      WANGGE_DATABASE_URL: `sqlite://${path.join(dir, 'wangge.db')}`,
      WANGGE_BIND: `127.0.0.1:${port}`,
      WANGGE_GEODATA: path.join(ROOT, 'geodata'),
      WANGGE_WEB_DIR: path.join(ROOT, 'web'),
      RUST_LOG: 'warn',
      // The demo's case replay takes a minute or more at first start; the tests make their own
      // cases through the API.
      WANGGE_DEMO_WEEKS: '0',
      // Only the planner's page analyses hot spots (planner.test.mjs turns this back on); the
      // others' servers would warm them for nothing, beside Chromium on the same two cores.
      WANGGE_NO_HOTSPOT_WARM: 'true',
      ...env,
    },
    stdio: ['ignore', log, log],
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`wangge exited with ${child.exitCode}:\n${fs.readFileSync(path.join(dir, 'wangge.log'), 'utf8')}`);
    }
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return { child, base };
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error('wangge did not become healthy in time');
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * A browser context that blocks and records every non-loopback request, and records console
 * errors, page errors and failed (>= 400) responses.
 */
export async function openContext(browser, options) {
  const context = await browser.newContext({ ...options, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const record = { external: [], consoleErrors: [], pageErrors: [], badResponses: [], requests: 0, paths: new Set(), urls: [] };
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    if (!record.external.includes(url)) record.external.push(url);
    return route.abort('blockedbyclient');
  });
  context.on('request', (req) => {
    record.requests++;
    if (req.url().startsWith('http')) {
      record.paths.add(new URL(req.url()).pathname);
      record.urls.push(req.url());
    }
    if (!isLocal(req.url()) && !record.external.includes(req.url())) record.external.push(req.url());
  });
  context.on('response', (res) => {
    // A case tile in flight while its user logs out meets the revoked token: 401 is the right
    // answer then, and the page ignores it.
    if (res.status() === 401 && new URL(res.url()).pathname.startsWith('/tiles/cases/')) return;
    if (res.status() >= 400) record.badResponses.push(`${res.status()} ${res.url()}`);
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') record.consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => record.pageErrors.push(String(err?.stack || err)));
  return { context, page, record };
}

export const idle = (page) => page.evaluate(() => window.wangge.idle());

export async function jump(page, center, zoom) {
  await page.evaluate(([c, z]) => window.wangge.map.jumpTo({ center: c, zoom: z }), [center, zoom]);
  await idle(page);
}

/** Number of rendered features per style layer id, for the given ids. */
export function renderedCounts(page, layerIds) {
  return page.evaluate((ids) => {
    const { map } = window.wangge;
    return Object.fromEntries(ids.map((id) => [id, map.queryRenderedFeatures({ layers: [id] }).length]));
  }, layerIds);
}

/**
 * Rendered counts once every given layer draws something, or the last counts after `timeoutMs`.
 * Symbol layers are placed a frame or two after their tiles load (collision detection and fade),
 * so a label layer can read 0 right after `idle`; waiting here keeps the test from racing it.
 */
export async function renderedEach(page, layerIds, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await renderedCounts(page, layerIds);
    if (Object.values(counts).every((n) => n > 0) || Date.now() > deadline) return counts;
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Everything the page may load from wangge: itself, its modules, vendored MapLibre, the API.
// A glyph, sprite or tile request (there is no such server) would show up here.
// The public 红黑榜 page is /board with board.css.
export const ALLOWED_PATH = new RegExp('^/(|app\\.(js|css)|(inspect|planner|home)\\.css|(readiness|notice)\\.(html|css)|board(\\.css)?|shops/[\\w-]+|js/[\\w-]+\\.js|vendor/maplibre-gl/[\\w.-]+|healthz'
  + '|tiles/(grid|frontage|cases)/\\d+/\\d+/\\d+\\.mvt|photos/[0-9a-f]{64}'
  + '|api/(openapi\\.json|public/board|public/shops/[\\w-]+|(layers|basemap|auth|units|assign|search|cases|categories|hotspots|assessment|inspections|volunteer)(/.*)?))$');

export function assertClean(record) {
  assert.deepEqual(record.external, [], 'requests to non-loopback addresses');
  assert.deepEqual([...record.paths].filter((p) => !ALLOWED_PATH.test(p)), [], 'unexpected requests to wangge');
  // HTTP errors first: a failed request is usually what a console error is about.
  assert.deepEqual(record.badResponses, [], 'HTTP error responses');
  assert.deepEqual(record.pageErrors, [], 'uncaught page errors');
  assert.deepEqual(record.consoleErrors, [], 'console errors');
}


// --- the demo users, over the API and through the login form -----------------------------------

/** Every demo user's password (src/demo.rs). */
export const PASSWORD = 'wangge-demo';

/** The login answer {token, expires_at, user} for demo user `username`. */
export async function apiSession(base, username) {
  const r = await fetch(`${base}/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD }),
  });
  assert.equal(r.status, 200, `login ${username}`);
  return r.json();
}

/** A bearer token for demo user `username`. */
export async function apiLogin(base, username) {
  return (await apiSession(base, username)).token;
}

/** One API call that must succeed; its JSON answer. */
export async function call(base, token, method, p, body) {
  const r = await fetch(`${base}${p}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await r.json().catch(() => null);
  assert.ok(r.ok, `${method} ${p}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** Logs `username` in through the page's form (opening the side panel first on a phone). */
export async function loginAs(page, username) {
  if (!(await page.evaluate(() => document.body.classList.contains('panel-open')))) await page.tap('#panel-toggle');
  await page.fill('#login-form input[name="username"]', username);
  await page.fill('#login-form input[name="password"]', PASSWORD);
  await page.click('#login-form button[type="submit"]');
  await page.locator('#user-role').waitFor();
}

/** Stops a server of `startWangge` and removes its folder. */
export async function stopWangge(server, dir) {
  if (server?.child && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
