// The inspector's home on the map page (issue 15, point 2), on a desktop and a 390×844 phone,
// against the real binary: from the login form as demo_inspector the map zooms to the patrolled
// grids (bounds around them, zoom ≥ 13) with the blue highlight drawn, 我的网格 lists them with
// their open cases and flies to one; the search box (there before login too) finds a community and
// a road, by keyboard (↓, Enter, Esc) and by tap, and picking one moves the map there and opens
// it with the focus in it. Touch targets are measured on the phone.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  BIN, CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, SHOTS, assertClean, freePort, idle, openContext, startWangge,
} from './harness.mjs';

const PASSWORD = 'wangge-demo';

async function apiLogin(base, username) {
  const r = await fetch(`${base}/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD }),
  });
  assert.equal(r.status, 200, `login ${username}`);
  return r.json();
}

async function get(base, p) {
  const r = await fetch(`${base}${p}`);
  assert.equal(r.status, 200, p);
  return r.json();
}

const inside = (b, [x, y]) => x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3];

/** The map's view: bounds [w, s, e, n], zoom and centre. */
const view = (page) => page.evaluate(() => {
  const m = window.wangge.map;
  const b = m.getBounds();
  return { bounds: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()], zoom: m.getZoom(), center: m.getCenter().toArray() };
});

describe('the inspector\'s home: my grids and search', { timeout: 240_000 }, () => {
  let dir;
  let server;
  let browser;
  let base;
  let grids; // the inspector's grids as /api/search answers them
  let withCase; // the grid holding the open case
  let community; // a search result: the community of the first grid
  let road; // a search result: a road

  before(async () => {
    assert.ok(fs.existsSync(BIN), `wangge binary not found at ${BIN}`);
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wangge-home-'));
    server = await startWangge(dir, await freePort());
    base = server.base;
    const inspector = await apiLogin(base, 'demo_inspector');
    assert.ok(inspector.user.grids.length >= 2, 'the demo inspector patrols grids');
    grids = await Promise.all(inspector.user.grids.map(async (code) => (await get(base, `/api/search?q=${code}&limit=1`))[0]));
    grids.forEach((g, i) => assert.equal(g.code, inspector.user.grids[i]));
    // One open case in the second grid (grids are convex quadrilaterals: the box centre is inside).
    const b = grids[1].bbox;
    const r = await fetch(`${base}/api/cases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${inspector.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ idempotency_key: 'home-1', category: '0101', description: '网格内的暴露垃圾', lon: (b[0] + b[2]) / 2, lat: (b[1] + b[3]) / 2, crs: 'wgs84' }),
    });
    const created = await r.text();
    assert.ok(r.ok, `case: ${r.status} ${created}`);
    withCase = JSON.parse(created).grid_code;
    assert.ok(inspector.user.grids.includes(withCase), 'the case lies in a patrolled grid');
    const communityName = grids[0].parents.find((p) => p.kind === 'community').name;
    community = (await get(base, `/api/search?q=${encodeURIComponent(communityName)}&limit=1`))[0];
    assert.equal(community.kind, 'community');
    // A road of several segments, by its whole name.
    const segments = {};
    for (const f of (await get(base, '/api/basemap/road')).features) {
      if (f.properties.name?.endsWith('路')) segments[f.properties.name] = (segments[f.properties.name] ?? 0) + 1;
    }
    const roadName = Object.keys(segments).sort((a, b) => segments[b] - segments[a] || a.localeCompare(b))[0];
    road = (await get(base, `/api/search?q=${encodeURIComponent(roadName)}&limit=50`)).find((x) => x.kind === 'road' && x.name === roadName);
    assert.ok(road, `the road ${roadName} is found by its name`);
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

  for (const [label, options] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const phone = label === 'phone';
    const tap = (page, sel) => (phone ? page.tap(sel) : page.click(sel));
    const openPanel = async (page) => {
      if (!(await page.evaluate(() => document.body.classList.contains('panel-open')))) await tap(page, '#panel-toggle');
      await page.waitForFunction(() => document.body.classList.contains('panel-open'));
    };

    it(`${label}: after login the map shows the patrolled grids in blue and 我的网格 lists them with open cases`, async () => {
      const { context, page, record } = await openContext(browser, options);
      try {
        await page.goto(`${base}/`);
        await page.waitForFunction(() => window.wangge !== undefined);
        await idle(page);
        await openPanel(page);
        // The search box is there for everyone, before login.
        assert.ok(await page.locator('#home-q').isVisible(), 'search box visible when logged out');
        assert.equal(await page.locator('#my-grids').isVisible(), false);

        await page.fill('#login-form input[name="username"]', 'demo_inspector');
        await page.fill('#login-form input[name="password"]', PASSWORD);
        await tap(page, '#login-form button[type="submit"]');
        await page.locator('#user-role').waitFor();
        await page.locator('#my-grids .home-grid').nth(grids.length - 1).waitFor();
        // The case feed has loaded: the grid with the case counts it.
        await page.waitForFunction((code) => document.querySelector(`#my-grids [data-grid="${code}"] .home-open`)?.dataset.open === '1', withCase);
        await idle(page);

        const v = await view(page);
        assert.ok(v.zoom >= 13, `zoom ${v.zoom} shows the grids`);
        for (const g of grids) {
          assert.ok(inside(v.bounds, [g.bbox[0], g.bbox[1]]) && inside(v.bounds, [g.bbox[2], g.bbox[3]]), `${g.code} is in view`);
        }
        // The highlight: the patrolled grids are rendered in the blue outline layer, and the tiled
        // grids carry the `mine` state.
        const drawn = await page.evaluate(() => [...new Set(window.wangge.map
          .queryRenderedFeatures({ layers: ['home-mine-line'] }).map((f) => f.properties.code))].sort());
        assert.deepEqual(drawn, grids.map((g) => g.code).sort(), 'every patrolled grid is outlined in blue');
        const colour = await page.evaluate(() => window.wangge.map.getPaintProperty('home-mine-line', 'line-color'));
        assert.equal(colour, '#00b3ff');
        const state = await page.evaluate((code) => window.wangge.map.getFeatureState(window.wangge.loader.gridState(code)), grids[0].code);
        assert.equal(state.mine, true);

        // The list: name, community, street, open cases.
        await openPanel(page);
        const items = await page.locator('#my-grids .home-grid').evaluateAll((els) => els.map((e) => ({
          code: e.dataset.grid, text: e.textContent.replace(/\s+/g, ' '), open: e.querySelector('.home-open').dataset.open, h: e.getBoundingClientRect().height,
        })));
        assert.deepEqual(items.map((i) => i.code), grids.map((g) => g.code));
        for (const [i, item] of items.entries()) {
          const g = grids[i];
          assert.ok(item.text.includes(g.name), item.text);
          assert.ok(item.text.includes(g.parents.find((p) => p.kind === 'street').name), `${item.text} names the street`);
          assert.ok(item.text.includes(g.parents.find((p) => p.kind === 'community').name.replace(/居委会|居民委员会$/, '')), `${item.text} names the community`);
          assert.equal(item.open, g.code === withCase ? '1' : '0');
          assert.ok(item.text.includes(`未结 ${item.open}`));
          if (phone) assert.ok(item.h >= 44, `grid button ${item.h}px high`);
        }
        assert.match(await page.locator('#my-grids h2').textContent(), /未结案件 1 件/);
        await page.screenshot({ path: path.join(SHOTS, `home-my-grids-${label}.png`) });

        // A list item flies to its grid and opens it with the focus.
        const target = grids[grids.length - 1];
        await tap(page, `#my-grids [data-grid="${target.code}"]`);
        await page.waitForFunction((name) => document.querySelector('#info h2')?.textContent === name, target.name);
        await idle(page);
        const w = await view(page);
        assert.ok(inside(target.bbox, w.center), `the map is centred on ${target.code}: ${w.center}`);
        assert.ok(w.zoom >= 16, `zoomed in to the grid: ${w.zoom}`);
        assert.equal(await page.evaluate(() => document.activeElement?.closest('#info') !== null), true, 'focus is in the opened grid');
        const selected = await page.evaluate(() => window.wangge.map.queryRenderedFeatures({ layers: ['selected-line'] }).map((f) => f.properties.code));
        assert.ok(selected.includes(target.code), 'the grid is outlined as selected');
        assertClean(record);
      } finally {
        await context.close();
      }
    });

    it(`${label}: search finds a community and a road; picking one moves the map there and opens it`, async () => {
      const { context, page, record } = await openContext(browser, options);
      try {
        await page.goto(`${base}/`);
        await page.waitForFunction(() => window.wangge !== undefined);
        await idle(page);
        await openPanel(page);
        const before = await view(page);

        // A community by name, with the keyboard.
        await page.locator('#home-q').fill(community.name.slice(0, 3));
        await page.locator('#home-results [role=option]').first().waitFor();
        assert.equal(await page.getAttribute('#home-q', 'aria-expanded'), 'true');
        const options = await page.locator('#home-results [role=option]').evaluateAll((els) => els.map((e) => ({ text: e.textContent.replace(/\s+/g, ' '), h: e.getBoundingClientRect().height })));
        assert.ok(options[0].text.includes(community.name) && options[0].text.includes('社区/村'), options[0].text);
        assert.ok(options[0].text.includes(community.chain.split(' › ')[0]), 'the option shows its district');
        if (phone) {
          for (const o of options) assert.ok(o.h >= 44, `option ${o.h}px high`);
          const box = await page.locator('#home-q').boundingBox();
          assert.ok(box.height >= 44, `search box ${box.height}px high`);
        }
        // Esc closes the list; ↓ opens it again and moves into it.
        await page.locator('#home-q').press('Escape');
        assert.equal(await page.locator('#home-results').isVisible(), false);
        await page.locator('#home-q').press('ArrowDown');
        await page.locator('#home-results [role=option]').first().waitFor();
        await page.keyboard.press('ArrowDown');
        assert.equal(await page.getAttribute('#home-results [role=option] >> nth=0', 'aria-selected'), 'true');
        assert.equal(await page.evaluate(() => document.activeElement?.id), 'home-opt-0', 'focus moves into the result list');
        await page.keyboard.press('Enter');
        await page.waitForFunction((name) => document.querySelector('#info h2')?.textContent === name, community.name);
        await idle(page);
        let v = await view(page);
        assert.ok(inside(community.bbox, v.center), `centred on the community: ${v.center}`);
        assert.ok(v.zoom > before.zoom, 'zoomed in');
        assert.equal(await page.evaluate(() => document.activeElement?.closest('#info') !== null), true, 'focus is in the opened community');
        assert.ok((await page.evaluate(() => window.wangge.map.queryRenderedFeatures({ layers: ['selected-line'] }).length)) > 0, 'the community is outlined');

        // A road by name, tapped.
        await openPanel(page);
        await page.locator('#home-q').fill(road.name);
        const option = page.locator('#home-results [role=option]', { hasText: road.name }).filter({ hasText: '道路' }).first();
        await option.waitFor();
        await option[phone ? 'tap' : 'click']();
        await page.waitForFunction((name) => document.querySelector('#info h2')?.textContent === name, road.name);
        await idle(page);
        v = await view(page);
        const [cx, cy] = [(road.bbox[0] + road.bbox[2]) / 2, (road.bbox[1] + road.bbox[3]) / 2];
        assert.ok(inside(v.bounds, [cx, cy]), `the road's box centre is in view: ${v.bounds}`);
        const segments = await page.evaluate(() => window.wangge.map.queryRenderedFeatures({ layers: ['home-road'] }).map((f) => f.properties.name));
        assert.ok(segments.length > 0 && segments.every((n) => n === road.name), 'the road is highlighted');
        assert.ok((await page.locator('#info').textContent()).includes(road.chain.split(' › ')[0]), 'the road panel names its district');

        // Nothing found says so in Chinese.
        await openPanel(page);
        await page.locator('#home-q').fill('不存在的地方');
        await page.waitForFunction(() => document.querySelector('.home-status')?.textContent.includes('没有找到'));
        await page.screenshot({ path: path.join(SHOTS, `home-search-${label}.png`) });
        assertClean(record);
      } finally {
        await context.close();
      }
    });
  }
});
