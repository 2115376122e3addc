// The planner's hot spot panel (热点分析) in headless Chromium against the real binary and the
// demo city with its two-year history: a planner picks a category and runs the analysis; the
// kernel density image and the Gi* grids are drawn on the map, and the hottest grids, the
// most-reported 门前三包 frontages and the zone sentence are listed. Other roles do not see it.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  BIN, CHROMIUM, CHROMIUM_ARGS, DESKTOP, SHOTS, assertClean, freePort, idle, jump, openContext, startWangge,
} from './harness.mjs';

async function loginAs(page, username) {
  if (await page.locator('#login-box [data-action="logout"]').count()) {
    await page.click('#login-box [data-action="logout"]');
  }
  await page.fill('#login-form input[name="username"]', username);
  await page.fill('#login-form input[name="password"]', 'wangge-demo');
  await page.click('#login-form button[type="submit"]');
  await page.locator('#user-role').waitFor();
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
    server = await startWangge(dir, await freePort());
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
  });

  it('draws the density and the Gi* grids and lists the hottest grids and frontages', async () => {
    const { page } = ctx;
    await loginAs(page, 'demo_planner');
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
  });

  it('a dispatcher sees the panel too', async () => {
    const { page } = ctx;
    await loginAs(page, 'demo_dispatcher');
    await page.locator('#planner').waitFor({ state: 'visible' });
  });

  it('made no external request and logged no error', () => {
    assertClean(ctx.record);
  });
});
