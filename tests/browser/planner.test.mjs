// The planner's hot spot panel (热点分析) in headless Chromium against the real binary and the
// demo city with its two-year history, starting from the login form as demo_planner at 1280×800
// and on a 390×844 phone: the kernel density image and the Gi* grids are drawn with legends that
// give their units; each method is explained in plain Chinese (the exact figures kept under
// 技术参数); the 卫生死角 are ranked with their evidence; the zone table breaks the load down by
// 城中村, railway corridors and 背街小巷; every listed place flies to it and opens it. Other roles
// than planners, administrators and dispatchers do not see the panel.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  BIN, CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, SHOTS, assertClean, freePort, idle, jump, openContext, startWangge,
} from './harness.mjs';

const GRID_MIN_ZOOM = 13; // web/js/style.js

async function loginAs(page, username) {
  if (await page.locator('#login-box [data-action="logout"]').count()) {
    await page.click('#login-box [data-action="logout"]');
  }
  await page.fill('#login-form input[name="username"]', username);
  await page.fill('#login-form input[name="password"]', 'wangge-demo');
  await page.click('#login-form button[type="submit"]');
  await page.locator('#user-role').waitFor();
}

/** Runs the analysis for 0101 over the demo history and waits for its answer. */
async function runAnalysis(page) {
  const panel = page.locator('#planner');
  await panel.waitFor({ state: 'visible' });
  // The categories come from the server's catalogue.
  await page.waitForFunction(() => document.querySelectorAll('#planner select[name="category"] option').length > 20);
  await panel.locator('select[name="category"]').selectOption('0101');
  await panel.locator('input[name="from"]').fill('2025-01-01');
  await panel.locator('input[name="to"]').fill('2026-11-01');
  await panel.locator('[data-action="run"]').click();
  await page.waitForFunction(() => {
    const t = document.querySelector('#planner [data-out="status"]')?.textContent ?? '';
    return t.includes('件') || t.includes('失败');
  }, null, { timeout: 180_000 });
  const status = await panel.locator('[data-out="status"]').textContent();
  assert.ok(!status.includes('失败'), status);
}

/** The text a person sees in the panel and the legend, outside the 技术参数 details. */
function visibleText(page) {
  return page.evaluate(() => {
    const out = [];
    for (const root of [document.querySelector('#planner'), document.querySelector('#planner-legend')]) {
      const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        const el = n.parentElement;
        if (el.closest('details.pl-tech') || el.closest('option') || !el.checkVisibility()) continue;
        if (n.textContent.trim()) out.push(n.textContent.trim());
      }
    }
    return out.join('\n');
  });
}

/** WCAG contrast of an element's text colour on its (opaque) background colour. */
function contrastOf(page, selector) {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel);
    const rgb = (s) => s.match(/[\d.]+/g).slice(0, 3).map(Number);
    const lum = (c) => {
      const [r, g, b] = c.map((v) => { const x = v / 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    let bg = el;
    while (bg && getComputedStyle(bg).backgroundColor === 'rgba(0, 0, 0, 0)') bg = bg.parentElement;
    const a = lum(rgb(getComputedStyle(el).color));
    const b = lum(rgb(getComputedStyle(bg ?? document.body).backgroundColor));
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  }, selector);
}

/** The legends, the explanations, the 卫生死角 and the zone table, for either viewport. */
async function checkReadable(page) {
  const legend = page.locator('#planner-legend');
  assert.ok(await legend.isVisible(), 'the legend overlay is shown');
  const kde = legend.locator('[data-legend="kde"]');
  const gi = legend.locator('[data-legend="gi"]');
  assert.ok(await kde.isVisible() && await gi.isVisible(), 'both legends while both layers are on');
  assert.match(await kde.textContent(), /件\/平方公里/, 'the density legend gives its unit');
  const ticks = await kde.locator('.pl-ticks span').allTextContents();
  assert.equal(ticks.length, 4, 'four ticks on the density scale');
  assert.ok(Number(ticks[3].replace(/,/g, '')) > 0, `the scale's top is the real maximum: ${ticks}`);
  const bins = await gi.locator('li').allTextContents();
  for (const label of ['热点 99 %', '热点 95 %', '热点 90 %', '不显著', '冷点 90 %', '冷点 95 %', '冷点 99 %']) {
    assert.ok(bins.some((b) => b.includes(label)), `Gi* legend has ${label}: ${bins}`);
  }
  // Clear of the MapLibre controls and inside the screen.
  const box = await legend.boundingBox();
  const nav = await page.locator('.maplibregl-ctrl-top-right .maplibregl-ctrl-group').boundingBox();
  const vp = page.viewportSize();
  assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= vp.width && box.y + box.height <= vp.height, `legend on screen: ${JSON.stringify(box)}`);
  assert.ok(box.x + box.width < nav.x || box.y > nav.y + nav.height, 'legend clear of the zoom buttons');
  assert.ok(await contrastOf(page, '#planner-legend .unit') >= 4.5, 'legend text contrast');
  assert.ok(await contrastOf(page, '#planner .pl-explain') >= 4.5, 'explanation text contrast');

  // One plain line per method, with its parameters.
  const explainKde = await page.locator('#planner [data-explain="kde"]').textContent();
  assert.match(explainKde, /^核密度:把每件报告平摊到周围约 [\d,]+ 米内,颜色越深,单位面积报告越多\(件\/平方公里\)/);
  assert.match(await page.locator('#planner [data-explain="gi"]').textContent(), /显著高于全市平均;已校正多重比较\(FDR/);
  assert.match(await page.locator('#planner [data-explain="blind"]').textContent(), /\d+ 周内被报告至少 \d+ 次/);
  // No bare jargon in what is visible outside 技术参数 …
  const text = await visibleText(page);
  assert.ok(!text.includes('带宽'), 'no 带宽 outside 技术参数');
  assert.ok(!text.includes('置信度'), 'no 置信度 outside 技术参数');
  assert.ok(!/(^|[^A-Za-z])z[\s=]/.test(text), 'no bare z value outside 技术参数');
  for (const m of text.matchAll(/FDR/g)) {
    assert.equal(text.slice(m.index - 5, m.index), '多重比较(', 'FDR only beside its plain explanation');
  }
  // … and the exact figures are kept inside it.
  const tech = await page.locator('#planner details.pl-tech').textContent();
  for (const s of ['带宽', 'FDR', 'z 值', 'Benjamini']) assert.ok(tech.includes(s), `技术参数 has ${s}`);

  // 卫生死角: ranked, with the evidence.
  const blind = page.locator('#planner [data-out="blind"] li');
  assert.ok(await blind.count() >= 3, 'several 卫生死角 listed');
  for (const t of (await blind.allTextContents()).slice(0, 3)) {
    assert.match(t, /\d+ 件报告 · 结案后又报 \d+ 次 · 最近 \d{4}\/\d{2}\/\d{2}/, t);
  }
  assert.equal(await page.locator('#planner [data-out="blind"]').evaluate((el) => el.tagName), 'OL', 'ranked');

  // The zone table: 城中村, the railway corridors, 背街小巷, the rest, with units and shares.
  const rows = await page.locator('#planner table.pl-zones tbody tr').allTextContents();
  for (const z of ['城中村', '铁路50米', '背街小巷', '其他']) assert.ok(rows.some((r) => r.includes(z)), `zone row ${z}: ${rows}`);
  assert.ok(rows.find((r) => r.includes('城中村')).includes('件/km²'));
  assert.ok(rows.find((r) => r.includes('背街小巷')).includes('件/公里街道'), 'back alleys per km of street');
  assert.match(await page.locator('#planner [data-out="rule"]').textContent(), /热点占比/);
}

/** Clicks a list item and checks the map went there and opened it; returns the panel's title. */
async function flyAndOpen(page, kind, tap = false) {
  const before = await page.evaluate(() => window.wangge.map.getCenter().toArray());
  const button = page.locator(`#planner [data-go="${kind}"]`).first();
  const name = (await button.locator('.pl-name').textContent()).trim();
  await (tap ? button.tap() : button.click());
  await page.waitForFunction((n) => !document.querySelector('#info').hidden
    && (document.querySelector('#info h2')?.textContent ?? '').includes(n), name, { timeout: 20_000 });
  await page.waitForFunction(() => !window.wangge.map.isMoving());
  const after = await page.evaluate(() => ({ c: window.wangge.map.getCenter().toArray(), z: window.wangge.map.getZoom() }));
  assert.ok(Math.hypot(after.c[0] - before[0], after.c[1] - before[1]) > 1e-4, `the map moved: ${before} → ${after.c}`);
  assert.ok(after.z >= GRID_MIN_ZOOM, `zoomed to the grids: ${after.z}`);
  return { name, title: await page.locator('#info h2').textContent(), tag: await page.locator('#info .tag').first().textContent() };
}

describe('the planner panel', { timeout: 600_000 }, () => {
  let dir;
  let server;
  let browser;
  let ctx;

  before(async () => {
    assert.ok(fs.existsSync(BIN), `wangge binary not found at ${BIN}`);
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wangge-planner-'));
    // As a city runs it: the hot spots warmed in the background after start.
    server = await startWangge(dir, await freePort(), { WANGGE_NO_HOTSPOT_WARM: 'false' });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    ctx = await openContext(browser, DESKTOP);
    await ctx.page.goto(`${server.base}/`);
    await ctx.page.waitForFunction(() => window.wangge !== undefined);
    await idle(ctx.page);
  });

  after(async () => {
    await ctx?.context.close();
    await browser?.close();
    if (server?.child && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await new Promise((r) => server.child.once('exit', r));
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is hidden from an inspector', async () => {
    const { page } = ctx;
    assert.equal(await page.locator('#planner').isVisible(), false, 'hidden without a login');
    await loginAs(page, 'demo_inspector');
    assert.equal(await page.locator('#planner').isVisible(), false);
    assert.equal(await page.locator('#planner-legend').isVisible(), false, 'no legend either');
  });

  it('draws the density and the Gi* grids and lists the hottest grids and frontages', async () => {
    const { page } = ctx;
    await loginAs(page, 'demo_planner');
    await runAnalysis(page);
    const panel = page.locator('#planner');
    assert.ok((await panel.locator('[data-out="top"] li').count()) > 0, 'hot grids listed');
    assert.ok((await panel.locator('[data-out="frontages"] li').count()) > 0, 'frontages listed');
    assert.ok((await panel.locator('[data-out="sentence"]').textContent()).length > 10, 'a zone sentence');
    // The whole demo city in view: the Gi* grids draw over the density image.
    await jump(page, [113.56, 34.73], 11);
    const layers = await page.evaluate(() => ({
      kde: window.wangge.map.getLayer('hotspot-kde')?.type,
      gi: window.wangge.map.queryRenderedFeatures({ layers: ['hotspot-gi'] }).length,
    }));
    assert.equal(layers.kde, 'raster');
    assert.ok(layers.gi > 0, 'Gi* hot spot grids rendered');
    await page.screenshot({ path: path.join(SHOTS, 'desktop-planner.png') });
    // WANGGE_README_SHOTS=1 refreshes the README's picture of the planner panel.
    if (process.env.WANGGE_README_SHOTS) fs.copyFileSync(path.join(SHOTS, 'desktop-planner.png'), path.join(SHOTS, '..', '..', 'docs', 'screenshot-planner.png'));
  });

  it('explains itself: legends with units, a plain line per method, 卫生死角 with evidence, every zone', async () => {
    await checkReadable(ctx.page);
  });

  it('shows each legend only while its layer is on', async () => {
    const { page } = ctx;
    const legend = page.locator('#planner-legend');
    await page.locator('#planner input[name="kde"]').uncheck();
    assert.equal(await legend.locator('[data-legend="kde"]').isVisible(), false);
    assert.ok(await legend.locator('[data-legend="gi"]').isVisible());
    await page.locator('#planner input[name="gi"]').uncheck();
    assert.equal(await legend.isVisible(), false, 'no legend with both layers off');
    await page.locator('#planner input[name="kde"]').check();
    await page.locator('#planner input[name="gi"]').check();
    assert.ok(await legend.locator('[data-legend="kde"]').isVisible() && await legend.locator('[data-legend="gi"]').isVisible());
  });

  it('puts 起 and 止 beside their own date fields', async () => {
    const { page } = ctx;
    for (const name of ['from', 'to']) {
      const label = page.locator(`#planner label:has(input[name="${name}"])`);
      const text = await label.locator('span').boundingBox();
      const input = await label.locator('input').boundingBox();
      const box = await label.boundingBox();
      assert.ok(Math.abs((text.y + text.height / 2) - (input.y + input.height / 2)) < 4, `${name}: the word on the field's row`);
      assert.ok(text.x < input.x && input.y >= box.y - 1 && input.y + input.height <= box.y + box.height + 1, `${name}: the label wraps its field`);
    }
  });

  it('flies to a hot grid, a 卫生死角 and a frontage from the lists and opens each', async () => {
    const { page } = ctx;
    const grid = await flyAndOpen(page, 'grid');
    assert.equal(grid.tag, '单元网格');
    assert.equal(grid.title.trim(), grid.name);
    const blind = await flyAndOpen(page, 'blind');
    assert.equal(blind.tag, '卫生死角');
    assert.match(await page.locator('#info').textContent(), /结案后又报/);
    const frontage = await flyAndOpen(page, 'frontage');
    assert.equal(frontage.tag, '门前三包责任段');
    assert.equal(frontage.title.trim(), frontage.name);
    // Keyboard: the list items are buttons, reached and pressed without a pointer.
    const first = page.locator('#planner [data-go="grid"]').nth(1);
    await first.focus();
    await page.keyboard.press('Enter');
    const name = (await first.locator('.pl-name').textContent()).trim();
    await page.waitForFunction((n) => (document.querySelector('#info h2')?.textContent ?? '') === n, name, { timeout: 20_000 });
    await idle(page);
    await page.screenshot({ path: path.join(SHOTS, 'desktop-planner-place.png') });
  });

  it('a dispatcher sees the panel too', async () => {
    const { page } = ctx;
    await loginAs(page, 'demo_dispatcher');
    await page.locator('#planner').waitFor({ state: 'visible' });
  });

  it('made no external request and logged no error', () => {
    assertClean(ctx.record);
  });

  it('on a phone: the same panel, legend and lists, 44 px targets, and a tapped place opens above the map', async () => {
    const phone = await openContext(browser, PHONE);
    try {
      const { page } = phone;
      await page.goto(`${server.base}/`);
      await page.waitForFunction(() => window.wangge !== undefined);
      await idle(page);
      await page.tap('#panel-toggle');
      await page.waitForFunction(() => document.body.classList.contains('panel-open'));
      await loginAs(page, 'demo_planner');
      await runAnalysis(page);
      await checkReadable(page);
      await page.screenshot({ path: path.join(SHOTS, 'phone-planner.png') });
      for (const sel of ['#planner [data-go]', '#planner [data-action="run"]', '#planner input[name="from"]', '#planner select']) {
        const heights = await page.locator(sel).evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
        assert.ok(heights.length && heights.every((h) => h >= 44), `${sel} at least 44 px high: ${heights}`);
      }
      for (const name of ['from', 'to']) {
        const label = page.locator(`#planner label:has(input[name="${name}"])`);
        const text = await label.locator('span').boundingBox();
        const input = await label.locator('input').boundingBox();
        assert.ok(Math.abs((text.y + text.height / 2) - (input.y + input.height / 2)) < 4, `${name} beside its field on a phone`);
      }
      const grid = await flyAndOpen(page, 'grid', true);
      assert.equal(grid.title.trim(), grid.name);
      assert.equal(await page.evaluate(() => document.body.classList.contains('panel-open')), false, 'the side panel gave way');
      await page.screenshot({ path: path.join(SHOTS, 'phone-planner-place.png') });
      assertClean(phone.record);
    } finally {
      await phone.context.close();
    }
  });

  // After the clean-record check: the 422 answer is the point here.
  it('says in Chinese what to do when the filter selects no report', async () => {
    const { page } = ctx;
    const panel = page.locator('#planner');
    await panel.locator('input[name="from"]').fill('2000-01-01');
    await panel.locator('input[name="to"]').fill('2000-01-02');
    await panel.locator('[data-action="run"]').click();
    await page.waitForFunction(() => (document.querySelector('#planner [data-out="status"]')?.textContent ?? '').includes('失败'));
    assert.equal(await panel.locator('[data-out="status"]').textContent(), '分析失败:所选类别和时段内没有报告,请换一个类别或放宽时段。');
  });
});
