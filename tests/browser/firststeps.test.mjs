// The map page for someone who has never seen it, against the real binary (issue 15): logged out
// it says what can be done and names a place's owners by name; the map controls speak Chinese;
// on a phone an inspector logs in through the form, focus follows what opened, a report is placed
// at the map centre without a pointer (no "Esc" on a phone), the picked point stays in sight above
// the sheet, and every control measures at least 44 px high. No English word and no unit code in
// the visible text.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  BIN, CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, ROOT, SHOTS, assertClean, freePort, idle, jump, loginAs, openContext,
  startWangge, stopWangge,
} from './harness.mjs';

const DOCS = path.join(ROOT, 'docs');

// A street corner inside the unit grids (二七区, outside demo_inspector's grids).
const PLACE = [113.6305, 34.7535];

/**
 * English words and internal unit codes in the visible text of `selector`. Proper names that are
 * written in Latin letters in Chinese text too (WGS84, API …) are allowed.
 */
async function foreignWords(page, selector) {
  const text = await page.locator(selector).innerText();
  const allowed = /\b(WGS84|API|OpenAPI|Prometheus|MapLibre|km|GeoJSON|CSV|XLSX|QR|PNG|SVG|JPEG|WebP)\b/g;
  return [...text.replace(allowed, '').matchAll(/[A-Za-z_]{3,}[\w-]*/g)].map((m) => m[0]);
}

describe('first steps on the map page', { timeout: 300_000 }, () => {
  let dir;
  let server;
  let browser;

  before(async () => {
    assert.ok(fs.existsSync(BIN), `wangge binary not found at ${BIN}`);
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wangge-firststeps-'));
    server = await startWangge(dir, await freePort());
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await stopWangge(server, dir);
  });

  it('tells a visitor what the map answers and names the owners of a clicked place in Chinese', async () => {
    const { context, page, record } = await openContext(browser, DESKTOP);
    try {
      await page.goto(`${server.base}/`);
      await page.waitForFunction(() => window.wangge !== undefined);
      await idle(page);
      await page.locator('#map-hint').waitFor();
      assert.match(await page.locator('#newcomer').innerText(), /点击地图.*登录后可上报和办理案件/);
      assert.equal(await page.locator('.maplibregl-ctrl-zoom-in').getAttribute('aria-label'), '放大');
      assert.equal(await page.locator('.maplibregl-ctrl-zoom-out').getAttribute('aria-label'), '缩小');

      await jump(page, PLACE, 16);
      const box = await page.locator('#map canvas').boundingBox();
      const xy = await page.evaluate((c) => window.wangge.map.project(c), PLACE);
      await page.mouse.click(box.x + xy.x, box.y + xy.y);
      await page.locator('#info .owner-chain li[data-level="owner"]').waitFor();
      // The units' names replace their codes, logged out too (the name on the door is public).
      await page.waitForFunction(() => [...document.querySelectorAll('#info [data-unit]')].every((s) => s.title));
      assert.equal(await page.locator('#map-hint').isVisible(), false, 'the hint has done its job');
      assert.ok(await page.evaluate(() => document.activeElement?.closest('#info') !== null), 'focus moved to the opened panel');
      assert.deepEqual(await foreignWords(page, '#info'), [], 'English or codes in the place panel');
      assert.deepEqual(await foreignWords(page, '#panel'), [], 'English or codes in the side panel');
      await page.screenshot({ path: path.join(SHOTS, 'desktop-first-steps.png') });
      if (process.env.WANGGE_README_SHOTS) fs.copyFileSync(path.join(SHOTS, 'desktop-first-steps.png'), path.join(DOCS, 'screenshot-first-steps.png'));
      await idle(page);
      assertClean(record);
    } finally {
      await context.close();
    }
  });

  it('lets an inspector on a phone log in, place a report at the map centre and keep it in sight', async () => {
    const { context, page, record } = await openContext(browser, PHONE);
    try {
      await page.goto(`${server.base}/`);
      await page.waitForFunction(() => window.wangge !== undefined);
      await idle(page);
      await loginAs(page, 'demo_inspector');
      assert.ok(await page.evaluate(() => document.activeElement?.closest('#login-box') !== null), 'focus on who logged in, not <body>');

      // Every control of the side panel is a thumb's size.
      const small = await page.evaluate(() => [...document.querySelectorAll('#panel button, #panel select, #panel input, #panel summary')]
        .filter((el) => el.offsetParent !== null && el.type !== 'checkbox' && el.type !== 'radio')
        .map((el) => [el.outerHTML.slice(0, 60), Math.round(el.getBoundingClientRect().height)])
        .filter(([, h]) => h < 44));
      assert.deepEqual(small, [], 'controls under 44 px in the side panel');
      assert.deepEqual(await foreignWords(page, '#panel'), [], 'English or codes in the side panel');

      await jump(page, PLACE, 17);
      await page.locator('#case-box [data-action="report"]').tap();
      const bar = page.locator('.toast.report-mode');
      await bar.waitFor();
      assert.doesNotMatch(await bar.innerText(), /Esc/, 'no keyboard hint on a phone');
      await page.waitForFunction(() => document.querySelector('#panel').getBoundingClientRect().right <= 0);
      assert.ok(await page.locator('.crosshair').isVisible(), 'the cross-hair marks the centre');
      const centre = await page.evaluate(() => window.wangge.map.getCenter().toArray());
      await bar.getByRole('button', { name: /地图中心/ }).tap();
      const form = page.locator('#report-form');
      await form.waitFor();
      assert.ok(Math.abs(Number(await form.getAttribute('data-lon')) - centre[0]) < 1e-9, 'reported at the centre');
      assert.ok(Math.abs(Number(await form.getAttribute('data-lat')) - centre[1]) < 1e-9);
      assert.ok(await page.evaluate(() => document.activeElement?.closest('#info') !== null), 'focus moved to the form');
      // The picked point stays above the sheet.
      const seen = await page.evaluate((c) => {
        const y = window.wangge.map.project(c).y;
        return { y, visible: window.wangge.map.getCanvas().clientHeight - document.querySelector('#info').offsetHeight };
      }, centre);
      assert.ok(seen.y < seen.visible, `the point (y ${seen.y}) is hidden under the sheet (top at ${seen.visible})`);
      // …and the form's submit button is within the sheet, not cut off below it.
      const submit = await form.locator('[type="submit"]').boundingBox();
      const sheet = await page.locator('#info').boundingBox();
      assert.ok(submit.y + submit.height <= sheet.y + sheet.height + 1, 'the submit button is in sight');
      assert.equal(await form.locator('.file-button').innerText(), '拍照或选择照片');
      const smallInSheet = await page.evaluate(() => [...document.querySelectorAll('#info button, #info select, #info input, #info textarea')]
        .filter((el) => el.offsetParent !== null && !['checkbox', 'radio', 'file'].includes(el.type))
        .map((el) => [el.outerHTML.slice(0, 60), Math.round(el.getBoundingClientRect().height)])
        .filter(([, h]) => h < 44));
      assert.deepEqual(smallInSheet, [], 'controls under 44 px in the report sheet');
      await idle(page);
      await page.screenshot({ path: path.join(SHOTS, 'phone-report-at-centre.png') });
      if (process.env.WANGGE_README_SHOTS) fs.copyFileSync(path.join(SHOTS, 'phone-report-at-centre.png'), path.join(DOCS, 'screenshot-report-phone.png'));
      assertClean(record);
    } finally {
      await context.close();
    }
  });
});
