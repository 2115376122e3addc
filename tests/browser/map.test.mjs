// The map page in real headless Chromium, against the real wangge binary.
//
// Starts `wangge` (WANGGE_BIN, default target/debug/wangge) on a free loopback port with a fresh
// SQLite database and the repository's geodata/ and web/, opens the page in Debian's Chromium
// (CHROMIUM, default /usr/bin/chromium) and checks that every layer renders, that a click on a
// grid shows its 15-digit code, that login shows the role in Chinese, and that the page makes no
// request beyond loopback and logs no error. Screenshots go to artifacts/screenshots/.
//
// Run from the repository root:  node --test tests/browser/   (after `npm ci` in tests/browser)

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  BIN, CHROMIUM, SHOTS, CHROMIUM_ARGS, DESKTOP, PHONE, startWangge, freePort, openContext, idle, jump,
  renderedCounts, renderedEach, assertClean,
} from './harness.mjs';

// --- helpers ----------------------------------------------------------------------------------

/** A representative position of a zone of `kind`: first vertex of its geometry. */
function zonePosition(page, kind) {
  return page.evaluate((k) => {
    const zones = [...window.wangge.loader.byCode.zone.values()];
    const f = zones.find((z) => z.properties.kind === k);
    let c = f.geometry.coordinates;
    while (typeof c[0] !== 'number') c = c[0];
    return c;
  }, kind);
}

// --- the test -----------------------------------------------------------------------------------

describe('map page in headless Chromium', { timeout: 600_000 }, () => {
  let dir;
  let server;
  let browser;

  before(async () => {
    assert.ok(fs.existsSync(BIN), `wangge binary not found at ${BIN}; build it with cargo build or set WANGGE_BIN`);
    assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}; apt-get install -y chromium fonts-noto-cjk`);
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wangge-browser-'));
    server = await startWangge(dir, await freePort());
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    if (server?.child && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await new Promise((r) => server.child.once('exit', r));
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('desktop 1280×800', () => {
    let ctx;
    before(async () => {
      ctx = await openContext(browser, DESKTOP);
      await ctx.page.goto(`${server.base}/`);
      await ctx.page.waitForFunction(() => window.wangge !== undefined);
      await idle(ctx.page);
    });
    after(() => ctx?.context.close());

    it('fits the map to the two districts at start', async () => {
      const b = await ctx.page.evaluate(() => window.wangge.map.getBounds().toArray());
      // The districts span about 113.45–113.67 E, 34.60–34.86 N; the view must show all of it.
      assert.ok(b[0][0] <= 113.45 && b[1][0] >= 113.67, `west/east ${b[0][0]} ${b[1][0]}`);
      assert.ok(b[0][1] <= 34.61 && b[1][1] >= 34.86, `south/north ${b[0][1]} ${b[1][1]}`);
      await ctx.page.screenshot({ path: path.join(SHOTS, 'desktop-city.png') });
    });

    it('renders the basemap, districts and streets with Chinese labels', async () => {
      const n = await renderedEach(ctx.page, ['road-main', 'road-secondary', 'railway-base', 'railway-dash', 'station',
        'district-line', 'district-label', 'street-line', 'street-label']);
      for (const [id, count] of Object.entries(n)) assert.ok(count > 0, `${id} rendered nothing: ${JSON.stringify(n)}`);
      const labels = await ctx.page.evaluate(() =>
        window.wangge.map.queryRenderedFeatures({ layers: ['district-label'] }).map((f) => f.properties.name).sort());
      assert.deepEqual([...new Set(labels)], ['中原区', '二七区']);
    });

    it('renders communities, alleys and road names when zoomed in', async () => {
      await jump(ctx.page, [113.64, 34.75], 14.5);
      const n = await renderedEach(ctx.page, ['community-line', 'community-label', 'community-fill', 'road-alley', 'road-label']);
      for (const [id, count] of Object.entries(n)) assert.ok(count > 0, `${id} rendered nothing: ${JSON.stringify(n)}`);
      await ctx.page.screenshot({ path: path.join(SHOTS, 'desktop-communities.png') });
    });

    it('loads unit grids for the viewport from zoom 13 and labels their codes at high zoom', async () => {
      await jump(ctx.page, [113.64, 34.75], 12);
      assert.equal((await renderedCounts(ctx.page, ['grid-line']))['grid-line'], 0, 'no grids below zoom 13');
      await jump(ctx.page, [113.64, 34.75], 13.5);
      const n = await renderedCounts(ctx.page, ['grid-line', 'grid-fill']);
      assert.ok(n['grid-line'] > 0 && n['grid-fill'] > 0, JSON.stringify(n));
      await jump(ctx.page, [113.64, 34.75], 17);
      const codes = await ctx.page.evaluate(() =>
        window.wangge.map.queryRenderedFeatures({ layers: ['grid-label'] }).map((f) => f.properties.code));
      assert.ok(codes.length > 0, 'no grid code labels at zoom 17');
      for (const c of codes) assert.match(c, /^\d{15}$/);
    });

    it('loads 门前三包 frontages for the viewport from zoom 15', async () => {
      await jump(ctx.page, [113.64, 34.75], 14.5);
      assert.equal((await renderedCounts(ctx.page, ['frontage-line']))['frontage-line'], 0, 'no frontages below zoom 15');
      await jump(ctx.page, [113.64, 34.75], 16);
      const kinds = await ctx.page.evaluate(() =>
        window.wangge.map.queryRenderedFeatures({ layers: ['frontage-line'] }).map((f) => f.properties.shop_type ?? f.properties.kind));
      assert.ok(kinds.length > 0, 'no frontages at zoom 16');
      assert.ok(new Set(kinds).size >= 3, `frontages of several shop types expected: ${[...new Set(kinds)]}`);
      await ctx.page.screenshot({ path: path.join(SHOTS, 'desktop-grids-frontages.png') });
    });

    it('draws grids and frontages from vector tiles today, from GeoJSON for a past date', async () => {
      await jump(ctx.page, [113.64, 34.75], 16);
      const tiled = await ctx.page.evaluate(() => ['grid', 'frontage'].map((s) => window.wangge.map.getSource(s).type));
      assert.deepEqual(tiled, ['vector', 'vector']);
      const tilePaths = [...ctx.record.paths].filter((p) => p.startsWith('/tiles/'));
      for (const layer of ['grid', 'frontage']) {
        assert.ok(tilePaths.some((p) => p.startsWith(`/tiles/${layer}/`)), `no /tiles/${layer}/ request: ${tilePaths.slice(0, 5)}`);
      }
      // No bounding-box GeoJSON for the big layers while tiles serve them.
      assert.equal(ctx.record.urls.filter((u) => /\/api\/layers\/(grid|frontage)\?/.test(u)).length, 0);
      // A date in the past: tiles only hold today's layers, so the page falls back to GeoJSON.
      await ctx.page.fill('#at', '2024-06-01');
      await ctx.page.dispatchEvent('#at', 'change');
      await idle(ctx.page);
      assert.equal(await ctx.page.evaluate(() => window.wangge.map.getSource('grid').type), 'geojson');
      const past = await renderedEach(ctx.page, ['grid-line', 'frontage-line', 'grid-label']);
      for (const [id, count] of Object.entries(past)) assert.ok(count > 0, `${id} rendered nothing for 2024-06-01`);
      assert.ok(ctx.record.urls.some((u) => /\/api\/layers\/grid\?.*at=2024-06-01/.test(u)), 'grid GeoJSON for the date');
      await ctx.page.fill('#at', '');
      await ctx.page.dispatchEvent('#at', 'change');
      await idle(ctx.page);
      assert.equal(await ctx.page.evaluate(() => window.wangge.map.getSource('grid').type), 'vector');
      const today = await renderedEach(ctx.page, ['grid-line', 'frontage-line', 'grid-label']);
      for (const [id, count] of Object.entries(today)) assert.ok(count > 0, `${id} rendered nothing from tiles`);
    });

    it('shows the owner chain with reasons for a click anywhere', async () => {
      await jump(ctx.page, [113.64, 34.75], 16);
      const canvas = await ctx.page.locator('#map canvas').boundingBox();
      const p = await ctx.page.evaluate(() => window.wangge.map.project([113.64, 34.75]));
      await ctx.page.mouse.click(canvas.x + p.x, canvas.y + p.y);
      const chain = ctx.page.locator('#info .owner-chain');
      await chain.waitFor();
      for (const level of ['grid', 'community', 'street', 'district', 'owner']) {
        assert.equal(await chain.locator(`li[data-level="${level}"]`).count(), 1, `chain lacks ${level}`);
      }
      const text = await ctx.page.locator('#info').textContent();
      assert.ok(text.includes('410103009001010'), 'the grid holding the point');
      assert.ok(text.includes('判定依据'), 'reasons');
      assert.ok(text.includes('属地兜底'), 'the fallback owner');
    });

    const ZONES = [
      ['urban_village', ['zone-urban-village-fill', 'zone-urban-village-line']],
      ['railway_land', ['zone-railway-land-fill', 'zone-railway-land-line']],
      ['back_alley', ['zone-back-alley']],
      ['inspection_site', ['zone-inspection-site', 'zone-inspection-site-label']],
    ];
    for (const [kind, ids] of ZONES) {
      it(`renders the ${kind} zones`, async () => {
        await jump(ctx.page, await zonePosition(ctx.page, kind), 15);
        const n = await renderedCounts(ctx.page, ids);
        for (const [id, count] of Object.entries(n)) assert.ok(count > 0, `${id} rendered nothing: ${JSON.stringify(n)}`);
      });
    }

    it('hides and shows a layer from the panel', async () => {
      await jump(ctx.page, [113.64, 34.75], 15);
      const box = ctx.page.locator('input[data-group="grid"]');
      await box.uncheck();
      await idle(ctx.page);
      assert.equal((await renderedCounts(ctx.page, ['grid-line']))['grid-line'], 0);
      await box.check();
      await idle(ctx.page);
      assert.ok((await renderedCounts(ctx.page, ['grid-line']))['grid-line'] > 0);
    });

    it('shows a clicked grid with its 15-digit code', async () => {
      await jump(ctx.page, [113.64, 34.75], 17);
      // Click at the label point of the grid nearest the centre: inside the grid, away from the
      // frontages along its edges.
      const target = await ctx.page.evaluate(() => {
        const { map } = window.wangge;
        const c = map.project(map.getCenter());
        const labels = map.queryRenderedFeatures({ layers: ['grid-label'] });
        let best = null;
        for (const f of labels) {
          const p = map.project(f.geometry.coordinates);
          const d = Math.hypot(p.x - c.x, p.y - c.y);
          const covered = map.queryRenderedFeatures([p.x, p.y], {
            layers: ['zone-inspection-site', 'frontage-line', 'zone-back-alley', 'station'],
          }).length > 0;
          if (!covered && (!best || d < best.d)) best = { d, x: p.x, y: p.y, code: f.properties.code };
        }
        return best;
      });
      assert.ok(target, 'a grid label to click');
      const canvas = await ctx.page.locator('#map canvas').boundingBox();
      await ctx.page.mouse.click(canvas.x + target.x, canvas.y + target.y);
      const info = ctx.page.locator('#info');
      await info.waitFor({ state: 'visible' });
      assert.equal(await info.getAttribute('data-source'), 'grid');
      const code = await info.locator('[data-field="code"]').textContent();
      assert.match(code, /^\d{15}$/);
      assert.equal(code, target.code);
      const text = await info.textContent();
      for (const label of ['名称', '编码', '上级', '责任单位', '面积', '管理等级', '生效日期']) {
        assert.ok(text.includes(label), `panel lacks ${label}: ${text}`);
      }
      await ctx.page.screenshot({ path: path.join(SHOTS, 'desktop-grid-selected.png') });
    });

    it('logs in as demo_inspector and shows the role in Chinese', async () => {
      await ctx.page.fill('#login-form input[name="username"]', 'demo_inspector');
      await ctx.page.fill('#login-form input[name="password"]', 'wangge-demo');
      await ctx.page.click('#login-form button[type="submit"]');
      await ctx.page.locator('#user-role').waitFor();
      assert.equal((await ctx.page.locator('#user-role').textContent()).trim(), '监督员/网格员');
      const stored = await ctx.page.evaluate(() => JSON.parse(sessionStorage.getItem('wangge.session')));
      assert.match(stored.token, /^wg_/);
      // The inspector's own grids are marked on the map: go to the first one's community.
      const mine = stored.user.grids[0];
      await ctx.page.evaluate((community) => {
        const { map, loader } = window.wangge;
        const b = [Infinity, Infinity, -Infinity, -Infinity];
        for (const [x, y] of loader.feature('community', community).geometry.coordinates[0]) {
          b[0] = Math.min(b[0], x); b[1] = Math.min(b[1], y); b[2] = Math.max(b[2], x); b[3] = Math.max(b[3], y);
        }
        map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { animate: false, maxZoom: 16, padding: 40 });
      }, mine.slice(0, 12));
      await idle(ctx.page);
      const state = await ctx.page.evaluate((code) => window.wangge.map.getFeatureState(window.wangge.loader.gridState(code)), mine);
      assert.equal(state.mine, true, `grid ${mine} marked as the inspector's own`);
      await ctx.page.screenshot({ path: path.join(SHOTS, 'desktop-logged-in.png') });
      // A wrong password shows the server's Chinese message and keeps nobody logged in.
      await ctx.page.click('#login-box [data-action="logout"]');
      await ctx.page.fill('#login-form input[name="username"]', 'demo_inspector');
      await ctx.page.fill('#login-form input[name="password"]', 'wrong');
      await ctx.page.click('#login-form button[type="submit"]');
      await ctx.page.locator('#login-form .error', { hasText: '用户名或密码错误' }).waitFor();
      assert.equal(await ctx.page.evaluate(() => sessionStorage.getItem('wangge.session')), null);
    });

    it('shows a clicked inspection site (测评点位) with its site type', async () => {
      const pos = await zonePosition(ctx.page, 'inspection_site');
      await jump(ctx.page, pos, 16);
      const p = await ctx.page.evaluate((c) => window.wangge.map.project(c), pos);
      const canvas = await ctx.page.locator('#map canvas').boundingBox();
      await ctx.page.mouse.click(canvas.x + p.x, canvas.y + p.y);
      const info = ctx.page.locator('#info');
      await info.waitFor({ state: 'visible' });
      assert.equal(await info.getAttribute('data-source'), 'zone');
      const text = await info.textContent();
      for (const label of ['测评点位', '点位类型', '责任单位', '所在位置']) assert.ok(text.includes(label), `panel lacks ${label}: ${text}`);
    });

    it('made no external request and logged no error', () => {
      // The failed login above answers 401 on purpose.
      ctx.record.badResponses = ctx.record.badResponses.filter((r) => !r.startsWith('401 ') || !r.endsWith('/api/auth/login'));
      ctx.record.consoleErrors = ctx.record.consoleErrors.filter((m) => !m.includes('status of 401'));
      assert.ok(ctx.record.requests > 10, `only ${ctx.record.requests} requests seen`);
      assertClean(ctx.record);
    });
  });

  describe('phone 390×844', () => {
    let ctx;
    before(async () => {
      ctx = await openContext(browser, PHONE);
      await ctx.page.goto(`${server.base}/`);
      await ctx.page.waitForFunction(() => window.wangge !== undefined);
      await idle(ctx.page);
    });
    after(() => ctx?.context.close());

    it('starts with the panel closed and the whole city in view', async () => {
      assert.equal(await ctx.page.evaluate(() => document.body.classList.contains('panel-open')), false);
      const n = await renderedEach(ctx.page, ['district-line', 'district-label', 'street-label']);
      for (const [id, count] of Object.entries(n)) assert.ok(count > 0, `${id} rendered nothing`);
      await ctx.page.screenshot({ path: path.join(SHOTS, 'phone-city.png') });
    });

    it('opens the layer panel from the top bar', async () => {
      await ctx.page.tap('#panel-toggle');
      await ctx.page.waitForTimeout(300); // the slide-in transition
      const box = await ctx.page.locator('#panel').boundingBox();
      assert.ok(box.x >= -1 && box.width <= 390, JSON.stringify(box));
      await ctx.page.screenshot({ path: path.join(SHOTS, 'phone-panel.png') });
      await ctx.page.tap('#panel-close');
      await ctx.page.waitForTimeout(300);
    });

    it('shows a tapped grid in a bottom sheet', async () => {
      await jump(ctx.page, [113.64, 34.75], 16.5);
      const canvas = await ctx.page.locator('#map canvas').boundingBox();
      const target = await ctx.page.evaluate(() => {
        const { map } = window.wangge;
        const c = map.project(map.getCenter());
        const f = map.queryRenderedFeatures({ layers: ['grid-label'] })
          .map((l) => ({ p: map.project(l.geometry.coordinates), code: l.properties.code }))
          .filter(({ p }) => map.queryRenderedFeatures([[p.x - 12, p.y - 12], [p.x + 12, p.y + 12]], {
            layers: ['zone-inspection-site', 'frontage-line', 'zone-back-alley'],
          }).length === 0)
          .sort((a, b) => Math.hypot(a.p.x - c.x, a.p.y - c.y) - Math.hypot(b.p.x - c.x, b.p.y - c.y))[0];
        return f && { x: f.p.x, y: f.p.y, code: f.code };
      });
      assert.ok(target, 'a grid to tap');
      await ctx.page.touchscreen.tap(canvas.x + target.x, canvas.y + target.y);
      await ctx.page.locator('#info').waitFor({ state: 'visible' });
      assert.equal(await ctx.page.locator('#info [data-field="code"]').textContent(), target.code);
      await idle(ctx.page); // the map pans the grid into view above the sheet
      const sheet = await ctx.page.locator('#info').boundingBox();
      assert.ok(sheet.y + sheet.height >= 843 && sheet.width >= 389, `bottom sheet expected: ${JSON.stringify(sheet)}`);
      await ctx.page.screenshot({ path: path.join(SHOTS, 'phone-grid-selected.png') });
    });

    it('made no external request and logged no error', () => assertClean(ctx.record));
  });
});
