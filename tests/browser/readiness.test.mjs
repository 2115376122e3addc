// The 创文办's readiness dashboard (/readiness.html) and the map page's 测评点位 status layer in
// headless Chromium, against the real binary. A round is walked over the API first: one market
// fails one item (整改中), another passes everything (达标), every other point stays 未检查; the
// checklists name an assessment date ten days ahead. The page must show the countdown, the shares
// by type and by street with those counts, the rectifying point, and a map of the points in their
// status colours; the map page's layer draws the points in the same colours and a click shows a
// point's status and open findings. Desktop and one phone check; no console error, no request
// beyond loopback. Screenshots go to artifacts/screenshots/ (docs/ with WANGGE_README_SHOTS=1).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  ALLOWED_PATH, BIN, CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, ROOT, SHOTS, apiSession, call, freePort, idle,
  openContext, renderedEach, startWangge,
} from './harness.mjs';

const DOCS = path.join(ROOT, 'docs');
// web/js/pointstatus.js
const COLOUR = { passed: '#2e9d4f', rectifying: '#f0a020', failing: '#d7301f', not_inspected: '#9aa3ab' };
// This page and the inspection API, on top of what the map page may load.
const MORE_PATHS = /^\/(readiness\.(html|css)|api\/inspections\/(readiness|points|rounds(\/\d+)?))$/;

/** The day in Beijing `days` from now, YYYY-MM-DD. */
function beijingDay(days) {
  return new Date(Date.now() + 8 * 3600e3 + days * 86400e3).toISOString().slice(0, 10);
}

function assertCleanHere(record) {
  assert.deepEqual(record.external, [], 'requests to non-loopback addresses');
  assert.deepEqual([...record.paths].filter((p) => !ALLOWED_PATH.test(p) && !MORE_PATHS.test(p)), [], 'unexpected requests to wangge');
  assert.deepEqual(record.badResponses, [], 'HTTP error responses');
  assert.deepEqual(record.pageErrors, [], 'uncaught page errors');
  assert.deepEqual(record.consoleErrors, [], 'console errors');
}

/** A context whose tab already holds `session` (as the map page's login leaves it). */
async function loggedIn(browser, options, session) {
  const ctx = await openContext(browser, options);
  await ctx.context.addInitScript((s) => sessionStorage.setItem('wangge.session', JSON.stringify(s)), session);
  return ctx;
}

describe('readiness dashboard and the points status layer', { timeout: 300_000 }, () => {
  let dir;
  let server;
  let browser;
  let session;
  let failing;
  let clean;
  let markets;

  before(async () => {
    assert.ok(fs.existsSync(BIN), `wangge binary not found at ${BIN}`);
    assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}`);
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wangge-readiness-'));
    server = await startWangge(dir, await freePort());
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const base = server.base;
    const admin = (await apiSession(base, 'demo_admin')).token;
    const lead = (await apiSession(base, 'demo_shiftlead')).token;
    const inspector = await apiSession(base, 'demo_inspector');
    const me = await call(base, inspector.token, 'GET', '/api/auth/me');
    const checklists = await call(base, admin, 'GET', '/api/inspections/checklists');
    await call(base, admin, 'PUT', '/api/inspections/checklists', { ...checklists.document, assessment_date: beijingDay(10) });
    const points = await call(base, admin, 'GET', '/api/inspections/points');
    markets = points.filter((p) => p.point_type === 'market');
    [failing, clean] = markets;
    const round = await call(base, lead, 'POST', '/api/inspections/rounds', {
      title: '2026年第9期市级督查', organiser: 'city', date: beijingDay(0), points: [failing.code, clean.code], inspectors: [me.id],
    });
    const items = checklists.document.types.market;
    const marks = (fail) => items.map((c) => (c.code === fail ? { criterion: c.code, pass: false, note: '东门外占道摆摊' } : { criterion: c.code, pass: true }));
    const visit = (code, fail) => call(base, inspector.token, 'POST', `/api/inspections/rounds/${round.id}/visits`, { point: code, marks: marks(fail) });
    assert.equal((await visit(failing.code, items[0].code)).findings.length, 1);
    assert.equal((await visit(clean.code, null)).findings.length, 0);
    // Any staff role reads the dashboard: a dispatcher's session.
    const d = await apiSession(base, 'demo_dispatcher');
    session = { token: d.token, expires_at: d.expires_at, user: d.user };
  });

  after(async () => {
    await browser?.close();
    if (server?.child && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await new Promise((r) => server.child.once('exit', r));
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shows the countdown, the shares by type and street, the rectifying point and the map in status colours', async () => {
    const { context, page, record } = await loggedIn(browser, DESKTOP, session);
    try {
      await page.goto(`${server.base}/readiness.html`);
      await page.waitForFunction(() => window.wanggeReadiness !== undefined);
      await page.evaluate(() => window.wanggeReadiness.ready);
      assert.equal(await page.textContent('#countdown [data-field="days-left"]'), '10');
      assert.match(await page.textContent('#countdown'), /距测评/);

      const cell = (table, key, field) => page.textContent(`${table} tr[data-key="${key}"] [data-field="${field}"]`);
      assert.equal(await cell('#by-type', 'market', 'passed'), '1');
      assert.equal(await cell('#by-type', 'market', 'rectifying'), '1');
      assert.equal(await cell('#by-type', 'market', 'failing'), '0');
      assert.equal(await cell('#by-type', 'market', 'not_inspected'), String(markets.length - 2));
      assert.equal(await cell('#by-type', 'market', 'pass_rate'), '50.0%');
      assert.equal(await cell('#by-type', 'school', 'not_inspected'), await page.textContent('#by-type tr[data-key="school"] td:last-child'));
      // By street: each visited point counts in its own street.
      const streets = {};
      for (const p of [failing, clean]) {
        streets[p.street_code] ??= { passed: 0, rectifying: 0 };
        streets[p.street_code][p === failing ? 'rectifying' : 'passed']++;
      }
      for (const [code, n] of Object.entries(streets)) {
        assert.equal(await cell('#by-street', code, 'rectifying'), String(n.rectifying), `street ${code}`);
        assert.equal(await cell('#by-street', code, 'passed'), String(n.passed), `street ${code}`);
      }
      assert.equal(await page.textContent('#totals [data-total="found"]'), '1');
      assert.equal(await page.textContent('#totals [data-total="open"]'), '1');
      assert.equal(await page.textContent('#totals [data-total="overdue"]'), '0');
      // Deadlines are a day away at least: nothing is overdue yet, and the page says so.
      assert.equal(await page.getAttribute('#overdue [data-state]', 'data-state'), 'none');

      // The small map: every point drawn, in its status colour.
      const drawn = await page.evaluate(async ([f, c]) => {
        const { map } = await window.wanggeReadiness.ready;
        const feats = map.queryRenderedFeatures({ layers: ['points'] });
        const byCode = new Map(feats.map((x) => [x.properties.code, x]));
        // The colour evaluated for the drawn feature where MapLibre gives it, else the style's
        // match expression applied to its status.
        const expr = map.getPaintProperty('points', 'circle-color');
        const colour = (code) => {
          const x = byCode.get(code);
          const rgba = x?.layer.paint?.['circle-color'];
          if (rgba && typeof rgba === 'object' && 'r' in rgba) {
            return `#${[rgba.r, rgba.g, rgba.b].map((v) => Math.round(v * 255).toString(16).padStart(2, '0')).join('')}`;
          }
          return x ? expr[expr.indexOf(x.properties.status) + 1] : null;
        };
        return { n: feats.length, failing: byCode.get(f)?.properties.status, clean: byCode.get(c)?.properties.status, colours: [colour(f), colour(c)] };
      }, [failing.code, clean.code]);
      assert.ok(drawn.n > 100, `points drawn: ${drawn.n}`);
      assert.equal(drawn.failing, 'rectifying');
      assert.equal(drawn.clean, 'passed');
      assert.deepEqual(drawn.colours, [COLOUR.rectifying, COLOUR.passed]);
      assert.match(await page.textContent('#ready-legend [data-status="rectifying"]'), /整改中 1/);
      await page.screenshot({ path: path.join(SHOTS, 'readiness-desktop.png'), fullPage: true });
      if (process.env.WANGGE_README_SHOTS) await page.screenshot({ path: path.join(DOCS, 'screenshot-readiness.png'), fullPage: true });
      assertCleanHere(record);
    } finally {
      await context.close();
    }
  });

  it('asks for a login without a session', async () => {
    const { context, page } = await openContext(browser, DESKTOP);
    try {
      await page.goto(`${server.base}/readiness.html`);
      await page.waitForFunction(() => window.wanggeReadiness !== undefined);
      await page.evaluate(() => window.wanggeReadiness.ready);
      assert.equal(await page.getAttribute('#ready-state', 'data-state'), 'login');
      assert.match(await page.textContent('#ready-state'), /请先在地图页登录/);
    } finally {
      await context.close();
    }
  });

  it('the map page draws the points in their status colours and shows a point\'s open findings', async () => {
    const { context, page, record } = await loggedIn(browser, DESKTOP, session);
    try {
      // The readiness page links each point as /#point=CODE: the layer comes on, the panel opens.
      await page.goto(`${server.base}/#point=${encodeURIComponent(failing.code)}`);
      await page.waitForFunction(() => window.wangge !== undefined);
      await idle(page);
      assert.ok(await page.isChecked('input[data-group="point_status"]'), 'the layer switch is on');
      const n = await renderedEach(page, ['point-status']);
      assert.ok(n['point-status'] > 0, 'points drawn');
      await page.waitForSelector('#info .point-findings li[data-finding]');
      assert.equal(await page.textContent('#info [data-field="status"]'), '整改中');
      assert.equal(await page.locator('#info .point-findings li[data-finding]').count(), 1);
      assert.match(await page.textContent('#info .point-findings'), /东门外占道摆摊/);

      // A click on the passing point shows 达标; both are drawn in their colours.
      const at = await page.evaluate(([f, c]) => {
        const { map } = window.wangge;
        const feats = map.queryRenderedFeatures({ layers: ['point-status'] });
        const status = Object.fromEntries(feats.filter((x) => [f, c].includes(x.properties.code)).map((x) => [x.properties.code, x.properties.status]));
        map.jumpTo({ center: window.wangge.pointStatus.points.get(c).place, zoom: 16 });
        return { status };
      }, [failing.code, clean.code]);
      assert.equal(at.status[failing.code], 'rectifying');
      await idle(page);
      const xy = await page.evaluate((c) => {
        const { map, pointStatus } = window.wangge;
        const p = map.project(pointStatus.points.get(c).place);
        const r = map.getCanvas().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
      }, clean.code);
      await page.mouse.click(xy[0], xy[1]);
      await page.waitForFunction((c) => document.querySelector(`#info [data-point="${c}"]`), clean.code);
      assert.equal(await page.textContent('#info [data-field="status"]'), '达标');
      await page.waitForSelector('#info .point-findings p');
      assert.match(await page.textContent('#info .point-findings'), /无未销号问题/);
      await page.screenshot({ path: path.join(SHOTS, 'readiness-map-layer.png') });
      assertCleanHere(record);
    } finally {
      await context.close();
    }
  });

  it('on a phone the dashboard is one column without sideways scrolling', async () => {
    const { context, page, record } = await loggedIn(browser, PHONE, session);
    try {
      await page.goto(`${server.base}/readiness.html`);
      await page.waitForFunction(() => window.wanggeReadiness !== undefined);
      await page.evaluate(() => window.wanggeReadiness.ready);
      assert.equal(await page.textContent('#countdown [data-field="days-left"]'), '10');
      const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      assert.ok(widths[0] <= widths[1], `no sideways scrolling: ${widths}`);
      assert.ok(await page.isVisible('#by-type tr[data-key="market"]'));
      await page.screenshot({ path: path.join(SHOTS, 'readiness-phone.png'), fullPage: true });
      assertCleanHere(record);
    } finally {
      await context.close();
    }
  });
});
