// A 市民找差团 volunteer on the map page, on a phone, against the real binary. They log in through
// the form and see their own card (我的上报) and the round that names them, without 复查 and
// without any of the staff's panels; they report a problem by tapping the map, see it in their list
// as 处理中, and after the grid's inspector finds it untrue (核实不属实) they see 不属实/作废 with
// the reason in plain Chinese. The page never asks for what the server refuses a volunteer (the
// city's cases, case tiles, the points' status, hot spots, 考评): no 403, no console error.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  BIN, CHROMIUM, CHROMIUM_ARGS, PHONE, SHOTS, apiLogin, assertClean, call, freePort, idle, loginAs,
  openContext, startWangge, stopWangge,
} from './harness.mjs';

/** What a volunteer's page must never ask for: the server answers 403 to all of it. */
const STAFF_ONLY = /^\/(api\/cases(\/(?!\d+\/photos).*)?|tiles\/cases\/.*|api\/inspections\/points|api\/hotspots\/.*|api\/assessment\/.*|api\/units)$/;

describe('a 市民找差团 volunteer on the map page, on a phone', { timeout: 240_000 }, () => {
  let dir;
  let server;
  let browser;
  let base;
  const t = {};
  let round;
  let schools;

  before(async () => {
    assert.ok(fs.existsSync(BIN), `wangge binary not found at ${BIN}`);
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wangge-volunteer-'));
    server = await startWangge(dir, await freePort());
    base = server.base;
    for (const u of ['admin', 'shiftlead', 'volunteer']) t[u] = await apiLogin(base, `demo_${u}`);
    const volunteerId = (await call(base, t.volunteer, 'GET', '/api/auth/me')).id;
    schools = (await call(base, t.admin, 'GET', '/api/inspections/points')).filter((p) => p.point_type === 'school');
    round = await call(base, t.shiftlead, 'POST', '/api/inspections/rounds', {
      title: '市民找差团 第3期', organiser: 'volunteers',
      date: new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai' }).format(new Date()),
      points: schools.slice(0, 2).map((p) => p.code), inspectors: [volunteerId],
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await stopWangge(server, dir);
  });

  it('reports by tapping the map, follows the report to its outcome, and walks their round without 复查', async () => {
    const place = schools[2].place;
    const ctx = await openContext(browser, {
      ...PHONE, geolocation: { longitude: place[0], latitude: place[1] }, permissions: ['geolocation'],
    });
    const { page, record } = ctx;
    try {
      await page.goto(`${base}/`);
      await page.waitForFunction(() => window.wangge !== undefined);
      await idle(page);
      await loginAs(page, 'demo_volunteer');
      const card = page.locator('#case-box');
      await card.getByRole('heading', { name: /我的上报/ }).waitFor();
      await card.getByText('您还没有上报过问题').waitFor();
      // None of the staff's panels: no case lists or filters, no planner, no 考评, no case layers.
      assert.equal(await card.locator('.worklist, .heat-filter').count(), 0, 'no staff work lists');
      for (const id of ['#planner', '#kaoping']) {
        if (await page.locator(id).count()) assert.equal(await page.locator(id).isVisible(), false, `${id} hidden`);
      }

      // Their round: the 巡查 card with its points, and no 复查 (the inspectors' step).
      await page.tap('#round-toggle');
      await page.locator(`#inspect select[name="round"] option[value="${round.id}"]`).waitFor({ state: 'attached' });
      await page.waitForFunction(() => document.querySelectorAll('#inspect .ip-point').length === 2);
      assert.equal(await page.locator('#inspect').getByText('复查任务').count(), 0, 'no 复查 tasks for a volunteer');

      // Report: the button, then a tap on the map where the problem is.
      await page.evaluate((c) => window.wangge.map.jumpTo({ center: c, zoom: 17 }), place);
      await idle(page);
      if (!(await page.evaluate(() => document.body.classList.contains('panel-open')))) await page.tap('#panel-toggle');
      await card.getByRole('button', { name: '在地图上上报问题' }).tap();
      // The panel gives the map back on a phone: the tap goes to the map once it has slid away.
      await page.waitForFunction(() => window.wangge.casework.reporting
        && document.querySelector('#panel').getBoundingClientRect().right <= 0);
      const box = await page.locator('#map').boundingBox();
      const xy = await page.evaluate((c) => window.wangge.map.project(c), place);
      await page.touchscreen.tap(box.x + xy.x, box.y + xy.y);
      const form = page.locator('#report-form');
      await form.waitFor();
      await form.locator('select[name="category"]').selectOption('0101');
      await form.locator('textarea[name="description"]').fill('校门口东侧堆放生活垃圾');
      await form.locator('[type="submit"]').tap();
      await page.locator('#info[data-source="own-report"]').waitFor();
      assert.equal(await page.locator('#info [data-field="outcome"]').getAttribute('data-outcome'), 'open');
      assert.match(await page.locator('#info [data-field="status"]').innerText(), /核实/);
      const [mine] = await call(base, t.volunteer, 'GET', '/api/volunteer/reports');
      assert.equal(mine.description, '校门口东侧堆放生活垃圾');
      await page.screenshot({ path: path.join(SHOTS, 'volunteer-report-phone.png') });

      // The grid's inspector finds it untrue (here the admin acts for them): 不属实/作废.
      await call(base, t.admin, 'POST', `/api/cases/${mine.id}/actions`, { action: 'verify', confirmed: false, note: '现场已清理,未见垃圾' });
      if (!(await page.evaluate(() => document.body.classList.contains('panel-open')))) await page.tap('#panel-toggle');
      await card.getByRole('button', { name: '刷新' }).tap();
      const item = card.locator(`[data-own="${mine.id}"]`);
      await item.locator('[data-outcome="not_confirmed"]').waitFor();
      await item.tap();
      await page.locator('#info [data-outcome="not_confirmed"]').waitFor();
      assert.match(await page.locator('#info').innerText(), /经网格监督员现场核实,问题不属实/);
      await idle(page);

      const asked = [...record.paths].filter((p) => STAFF_ONLY.test(p));
      assert.deepEqual(asked, [], 'the page asked for what a volunteer may not read');
      assertClean(record);
    } finally {
      await ctx.context.close();
    }
  });
});
