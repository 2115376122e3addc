// A shop's public 门前三包 page (/shops/{code}, no login) on a phone, in headless Chromium against
// the real binary: one problem reported on the shop's frontage through the API (with a phone
// number in its description), then the page shows the shop's name, its rating, the strip on the
// map and the problem with its outcome — and neither the phone number nor any request leaving the
// machine.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, PHONE, SHOTS, assertClean, freePort, openContext, startWangge } from './harness.mjs';

// A frontage of the demo city with one clear shop (张氏五金店, 林山寨街道) and a point in its strip.
const CODE = '410102001002001M001';
const POINT = [113.622752, 34.763816];

describe('the public shop page', () => {
  let dir, server, browser;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wangge-shops-'));
    server = await startWangge(dir, await freePort());
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    server?.child.kill('SIGTERM');
  });

  it('shows the duty, the rating and the problem, and nothing private', async () => {
    const login = await fetch(`${server.base}/api/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'demo_admin', password: 'wangge-demo' }),
    });
    const { token } = await login.json();
    const r = await fetch(`${server.base}/api/cases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        idempotency_key: 'shop-page-1', category: '0101', description: '门前暴露垃圾，店主电话 13812345678',
        lon: POINT[0], lat: POINT[1], crs: 'wgs84', register: true,
      }),
    });
    const c = await r.json();
    assert.equal(r.status, 201, JSON.stringify(c));
    assert.equal(c.frontage_code, CODE);

    const { context, page, record } = await openContext(browser, PHONE);
    await page.goto(`${server.base}/shops/${CODE}`);
    await page.waitForFunction(() => document.querySelector('#shop-problems')?.textContent.includes('暴露垃圾'));
    assert.match(await page.textContent('#shop-name'), /张氏五金店/);
    // One 包卫生 violation: 12 − 2 = 10 points, still green.
    assert.match(await page.textContent('#shop-badge'), /绿码 10 \/ 12 分/);
    assert.match(await page.textContent('#shop-duties'), /包卫生[\s\S]*包绿化[\s\S]*包秩序/);
    assert.ok(await page.$('#shop-map canvas'), 'the strip on a map');
    const text = await page.textContent('body');
    assert.ok(!text.includes('13812345678'), 'no phone number on the public page');
    assert.ok(!text.includes('demo_admin') && !text.includes('系统管理员'), 'no reporter');
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'shop-phone.png'), fullPage: true });
    assertClean(record);
    await context.close();
  });
});
