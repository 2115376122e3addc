// The inspector's round (巡查) on the map page, on a phone viewport, against the real binary.
// Setup through the API: the shift lead creates rounds over the demo city's 测评点位 (schools, four
// checklist items each) with the demo inspector as inspector. Then, in the page as the inspector:
// the points nearest first from the phone's position, three points visited, two items failed
// with a note and a photo each, two cases dispatched (ids and units shown, checked over the API
// with their photo), the 通报 published and opened, the cases rectified by their unit's handler
// over the API, the two 复查 passed in the page and the point 达标. Offline: a point submitted
// without network is 待上传 and sent on the `online` event; a visit whose answer is lost is
// retried with 重试; each files its case once and its photo once. A 409 (the point recorded with
// other marks meanwhile) is shown in Chinese, not retried, and kept until discarded.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';
import {
  BIN, CHROMIUM, CHROMIUM_ARGS, PHONE, ROOT, SHOTS, ALLOWED_PATH, apiLogin, call, freePort, idle, loginAs, openContext,
  startWangge, stopWangge,
} from './harness.mjs';

const { metres } = await import(path.join(ROOT, 'web', 'js', 'inspect.js'));

const DOCS = path.join(ROOT, 'docs');

/** A small real PNG (RGB, 8 bit), `seed` varying its pixels so every photo has its own hash. */
function png(seed) {
  const [width, height] = [64, 48];
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const heap = (x - 32) ** 2 / 300 + (y - 28) ** 2 / 120 < 1;
      raw.set(heap ? [110 + ((x * seed + y) % 40), 85, 50] : [205, 203, 196 - seed], y * (width * 3 + 1) + 1 + x * 3);
    }
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// The page may also load the printable 通报 and the inspection API (harness.ALLOWED_PATH covers
// the rest of the map page).
const ALLOWED = (p) => ALLOWED_PATH.test(p) || /^\/(inspect\.css|notice\.(html|css)|api\/inspections\/.*)$/.test(p);

function assertClean(record, { expectedFailures = 0 } = {}) {
  assert.deepEqual(record.external, [], 'requests to non-loopback addresses');
  assert.deepEqual([...record.paths].filter((p) => !ALLOWED(p)), [], 'unexpected requests to wangge');
  assert.deepEqual(record.badResponses, [], 'HTTP error responses');
  assert.deepEqual(record.pageErrors, [], 'uncaught page errors');
  // A request the test cut on purpose (offline, an aborted answer) is logged by Chromium as a
  // failed resource; those and only those are expected, exactly as many as were cut.
  const failed = record.consoleErrors.filter((e) => /net::ERR_(INTERNET_DISCONNECTED|FAILED)/.test(e));
  assert.ok(failed.length <= expectedFailures, `more failed requests than cut: ${failed.join('\n')}`);
  assert.deepEqual(record.consoleErrors.filter((e) => !failed.includes(e)), [], 'console errors');
}

/** Opens the 巡查 card on round `id` and waits for its points. */
async function openRound(page, id, points) {
  await page.tap('#round-toggle');
  await page.locator('#inspect').waitFor({ state: 'visible' });
  await page.locator(`#inspect select[name="round"] option[value="${id}"]`).waitFor({ state: 'attached' });
  if (await page.locator('#inspect select[name="round"]').inputValue() !== String(id)) {
    await page.selectOption('#inspect select[name="round"]', String(id));
  }
  await page.waitForFunction(([rid, n]) => window.wangge.inspect.report?.round.id === rid
    && document.querySelectorAll('#inspect .ip-point').length === n, [id, points]);
}

/**
 * Marks the open point: `fail` maps criterion codes to [note, photo]; everything else passes.
 * Submits and returns once the page shows the answer (`wait`: 'findings' or 'pending').
 */
async function markPoint(page, code, fail, wait = 'findings') {
  await page.tap(`#inspect .ip-point[data-point="${code}"]`);
  const form = page.locator('#inspect form.ip-check');
  await form.waitFor();
  for (const [criterion, [note, photo]] of Object.entries(fail)) {
    const item = form.locator(`.ip-item[data-criterion="${criterion}"]`);
    await item.locator('input[value="fail"]').check();
    await item.locator('textarea').fill(note);
    assert.equal(await item.locator('.count').textContent(), `${[...note].length}/500`);
    await item.locator('input[type="file"]').setInputFiles({ name: `${criterion}.png`, mimeType: 'image/png', buffer: photo });
  }
  await form.locator('[data-action="all-pass"]').tap();
  await form.locator('button[type="submit"]').tap();
  if (wait === 'findings') {
    const n = Object.keys(fail).length;
    if (n) await page.locator('#inspect .ip-findings > li').nth(n - 1).waitFor();
    else await page.locator('#inspect p.ok').waitFor();
  } else {
    await page.locator('#inspect .ip-pending').waitFor();
    // …and the send attempt is over (it failed: the pending note names why).
    await page.waitForFunction(() => !window.wangge.inspect.flushing
      && document.querySelector('#inspect .ip-pending p.small'));
  }
}

const back = (page) => page.tap('#inspect [data-action="back"]');

describe('the inspector\'s round on the map page, on a phone', { timeout: 300_000 }, () => {
  let dir;
  let server;
  let browser;
  let base;
  const t = {};
  let inspectorId;
  let schools; // the demo city's school 测评点位, by code
  let roundA; // the whole loop
  let roundB; // offline

  before(async () => {
    assert.ok(fs.existsSync(BIN), `wangge binary not found at ${BIN}`);
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wangge-inspections-'));
    server = await startWangge(dir, await freePort());
    base = server.base;
    for (const u of ['admin', 'shiftlead', 'inspector']) t[u] = await apiLogin(base, `demo_${u}`);
    inspectorId = (await call(base, t.inspector, 'GET', '/api/auth/me')).id;
    const points = await call(base, t.admin, 'GET', '/api/inspections/points');
    schools = points.filter((p) => p.point_type === 'school');
    assert.ok(schools.length >= 5, 'the demo city has schools among its 测评点位');
    const round = (title, codes) => call(base, t.shiftlead, 'POST', '/api/inspections/rounds', {
      title, organiser: 'city', date: new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai' }).format(new Date()),
      points: codes, inspectors: [inspectorId],
    });
    roundA = await round('2026年第9期市级督查', schools.slice(0, 3).map((p) => p.code));
    roundB = await round('暗访复核(离线)', schools.slice(3, 6).map((p) => p.code));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await stopWangge(server, dir);
  });

  /** A phone standing at `at` ([lon, lat]) with the position allowed. */
  async function phone(at) {
    const ctx = await openContext(browser, {
      ...PHONE, geolocation: { longitude: at[0], latitude: at[1] }, permissions: ['geolocation'],
    });
    await ctx.page.goto(`${base}/`);
    await ctx.page.waitForFunction(() => window.wangge !== undefined);
    await idle(ctx.page);
    return ctx;
  }

  it('visits three points nearest first, files two cases with photos, and re-inspects the point to 达标', async () => {
    const [first, second, third] = roundA.points.map((c) => schools.find((p) => p.code === c));
    // The phone stands at the third point of the round: it comes first, then by distance.
    const ctx = await phone(third.place);
    const { page, record } = ctx;
    try {
      await loginAs(page, 'demo_inspector');
      await openRound(page, roundA.id, 3);
      const order = await page.locator('#inspect .ip-point').evaluateAll((els) => els.map((e) => e.dataset.point));
      const expected = [first, second, third].sort((a, b) => metres(third.place, a.place) - metres(third.place, b.place));
      assert.deepEqual(order, expected.map((p) => p.code), 'nearest first');
      assert.match(await page.locator('#inspect .ip-point').first().locator('.ip-dist').textContent(), /^0 米$/);
      assert.deepEqual(await page.locator('#inspect .ip-state').allTextContents(), ['未检查', '未检查', '未检查']);
      // The points are on the map too; a tap on one opens its checklist.
      await page.tap('#panel-toggle');
      await page.evaluate((c) => window.wangge.map.jumpTo({ center: c, zoom: 15 }), first.place);
      await idle(page);
      const xy = await page.evaluate((c) => window.wangge.map.project(c), first.place);
      const box = await page.locator('#map').boundingBox();
      await page.touchscreen.tap(box.x + xy.x, box.y + xy.y);
      await page.locator('#inspect .ip-title').waitFor();
      assert.equal(await page.locator('#inspect .ip-title').textContent(), first.name);
      assert.equal(await page.locator('#inspect .ip-item').count(), 4, 'every item of the school checklist');
      await back(page);

      // The first point: two failures with a note and a photo each.
      const checklist = (await call(base, t.inspector, 'GET', `/api/inspections/checklists?version=${roundA.checklist_version}`)).document.types.school;
      const [a, b] = checklist;
      await page.tap(`#inspect .ip-point[data-point="${first.code}"]`);
      // A failure without a note is refused in the page, before anything is saved or sent.
      await page.locator(`#inspect .ip-item[data-criterion="${a.code}"] input[value="fail"]`).check();
      await page.locator('#inspect [data-action="all-pass"]').tap();
      await page.locator('#inspect button[type="submit"]').tap();
      assert.match(await page.locator('#inspect form .error').last().textContent(), /请写明问题情况/);
      await back(page);
      await page.screenshot({ path: path.join(SHOTS, 'phone-round-list.png') });
      await markPoint(page, first.code, { [a.code]: ['校门口两处占道摆摊', png(3)], [b.code]: ['围墙上有小广告', png(5)] });
      const shown = await page.locator('#inspect .ip-findings > li').evaluateAll((els) => els.map((e) => ({
        case: Number(e.dataset.case), unit: e.querySelector('.ip-unit').textContent, text: e.textContent,
      })));
      assert.equal(shown.length, 2);
      for (const f of shown) {
        assert.ok(f.case > 0 && f.unit && f.unit !== '待派遣', JSON.stringify(f));
        assert.match(f.text, /整改时限 \d+\/\d+ \d\d:\d\d/);
        const c = await call(base, t.admin, 'GET', `/api/cases/${f.case}`);
        assert.equal(c.status, 'dispatched', `case ${f.case} is dispatched`);
        assert.equal(c.photos.length, 1, `case ${f.case} has its photo`);
        assert.equal(c.photos[0].stage, 'before');
        assert.equal(f.unit, (await call(base, t.admin, 'GET', `/api/units/${c.unit_code}`)).name, 'the unit it is dispatched to');
      }
      await page.screenshot({ path: path.join(SHOTS, 'phone-round-findings.png') });
      await back(page);
      await markPoint(page, second.code, {});
      await back(page);
      await markPoint(page, third.code, {});
      await back(page);
      const states = Object.fromEntries(await page.locator('#inspect .ip-point').evaluateAll((els) => els.map((e) => [e.dataset.point, e.querySelector('.ip-state').textContent])));
      assert.deepEqual(states, { [first.code]: '已检查 · 2 问题', [second.code]: '达标 · 无问题', [third.code]: '达标 · 无问题' });
      await page.screenshot({ path: path.join(SHOTS, 'phone-round.png') });
      if (process.env.WANGGE_README_SHOTS === '1') await page.screenshot({ path: path.join(DOCS, 'screenshot-round.png') });

      // The 通报: published by the shift lead, opened in the page, listing both problems.
      await call(base, t.shiftlead, 'POST', `/api/inspections/rounds/${roundA.id}/notice`);
      await page.goto(`${base}/notice.html?round=${roundA.id}`);
      await page.waitForFunction(() => document.body.dataset.ready === 'true');
      assert.equal(await page.locator('#notice-streets img').count(), 2, 'each problem with its photo');
      const notice = await page.locator('#notice-streets').textContent();
      for (const f of shown) assert.ok(notice.includes(String(f.case)), `the notice lists case ${f.case}`);
      assert.ok(notice.includes('校门口两处占道摆摊') && notice.includes('围墙上有小广告'), notice);

      // 整改: each case's unit handles it, the grid's inspection checks it, the shift lead closes.
      for (const f of shown) {
        const c = await call(base, t.admin, 'GET', `/api/cases/${f.case}`);
        const username = `handler_${f.case}`;
        await call(base, t.admin, 'POST', '/api/users', {
          username, display_name: '整改责任人', role: 'handler', password: 'long-enough-pw', unit_code: c.unit_code,
        });
        const r = await fetch(`${base}/api/auth/login`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: 'long-enough-pw' }),
        });
        const handler = (await r.json()).token;
        await call(base, handler, 'POST', `/api/cases/${f.case}/actions`, { action: 'accept' });
        await call(base, handler, 'POST', `/api/cases/${f.case}/actions`, { action: 'feedback', note: '已整改' });
        await call(base, t.admin, 'POST', `/api/cases/${f.case}/actions`, { action: 'check', passed: true });
        await call(base, t.shiftlead, 'POST', `/api/cases/${f.case}/actions`, { action: 'close' });
      }

      // 复查 in the page: both tasks listed, both passed, the point 达标.
      await page.goto(`${base}/`);
      await page.waitForFunction(() => window.wangge !== undefined);
      await idle(page);
      await openRound(page, roundA.id, 3);
      assert.equal(await page.locator(`#inspect .ip-point[data-point="${first.code}"] .ip-state`).textContent(), '已检查 · 2 问题 · 2 项待复查');
      assert.equal(await page.locator('#inspect [data-out="recheck-count"]').textContent(), '2');
      for (let i = 0; i < 2; i++) {
        await page.locator('#inspect .ip-rechecks [data-action="recheck-pass"]').first().tap();
        await page.waitForFunction((n) => document.querySelector('#inspect [data-out="recheck-count"]')?.textContent === String(n), 1 - i);
      }
      assert.equal(await page.locator(`#inspect .ip-point[data-point="${first.code}"] .ip-state`).textContent(), '达标 · 2 问题已销号');
      const after = await call(base, t.admin, 'GET', '/api/inspections/points');
      assert.equal(after.find((p) => p.code === first.code).readiness.status, 'passed', 'the API agrees: 达标');
      assertClean(record);
    } finally {
      await ctx.context.close();
    }
  });

  it('keeps a point submitted offline as 待上传, files each case once after reconnecting or losing the answer, and never retries a refusal', async () => {
    const [p4, p5, p6] = roundB.points.map((c) => schools.find((p) => p.code === c));
    const ctx = await phone(p4.place);
    const { page, record, context } = ctx;
    const inspectionCases = async () => (await call(base, t.admin, 'GET', '/api/cases?source=inspection&limit=500')).length;
    try {
      await loginAs(page, 'demo_inspector');
      await openRound(page, roundB.id, 3);
      const crit = (await call(base, t.inspector, 'GET', `/api/inspections/checklists?version=${roundB.checklist_version}`)).document.types.school[2].code;
      const before = await inspectionCases();

      // Offline: saved on the phone, shown as 待上传, nothing on the server.
      await context.setOffline(true);
      await markPoint(page, p4.code, { [crit]: ['学校周边有暴露垃圾', png(7)] }, 'pending');
      assert.equal(await page.locator('#inspect [data-out="queued"]').textContent(), '1');
      assert.equal(await page.locator('#round-toggle [data-out="badge"]').textContent(), '1');
      await page.screenshot({ path: path.join(SHOTS, 'phone-round-offline.png') });
      let report = await call(base, t.admin, 'GET', `/api/inspections/rounds/${roundB.id}`);
      assert.equal(report.visited, 0, 'nothing reached the server');

      // Back online: the `online` event sends it.
      await context.setOffline(false);
      await page.locator('#inspect .ip-findings > li').first().waitFor();
      await page.locator('#inspect [data-out="outbox"]').waitFor({ state: 'hidden' });
      report = await call(base, t.admin, 'GET', `/api/inspections/rounds/${roundB.id}`);
      const f4 = report.points.find((p) => p.code === p4.code).findings;
      assert.equal(f4.length, 1);
      assert.equal(await inspectionCases(), before + 1, 'one case for one failure');
      assert.equal((await call(base, t.admin, 'GET', `/api/cases/${f4[0].case_id}`)).photos.length, 1);
      await back(page);

      // A lost answer: the server files the visit, the phone never hears of it, 重试 sends again.
      let cut = 0;
      let lost = null;
      await page.route('**/api/inspections/rounds/*/visits', async (route) => {
        if (cut++ > 0) return route.continue();
        lost = (await route.fetch()).status();
        return route.abort('failed');
      });
      await markPoint(page, p5.code, { [crit]: ['校门口非机动车乱停放', png(9)] }, 'pending');
      assert.equal(lost, 201, 'the server handled the first submission');
      report = await call(base, t.admin, 'GET', `/api/inspections/rounds/${roundB.id}`);
      assert.equal(report.points.find((p) => p.code === p5.code).findings.length, 1, 'filed by the lost submission');
      assert.equal(await inspectionCases(), before + 2);
      await page.locator('#inspect .ip-pending [data-action="retry"]').tap();
      await page.locator('#inspect .ip-findings > li').first().waitFor();
      await page.locator('#inspect [data-out="outbox"]').waitFor({ state: 'hidden' });
      assert.equal(cut, 2, 'sent twice');
      report = await call(base, t.admin, 'GET', `/api/inspections/rounds/${roundB.id}`);
      const f5 = report.points.find((p) => p.code === p5.code).findings;
      assert.equal(f5.length, 1);
      assert.equal(await inspectionCases(), before + 2, 'the retry filed nothing more');
      assert.equal((await call(base, t.admin, 'GET', `/api/cases/${f5[0].case_id}`)).photos.length, 1, 'one photo');
      assert.equal(Number(await page.locator('#inspect .ip-findings > li').first().getAttribute('data-case')), f5[0].case_id);
      await back(page);
      await page.unroute('**/api/inspections/rounds/*/visits');

      // A refusal (409: another phone recorded the point with other marks meanwhile) is not
      // retried: the page says why in Chinese and keeps the marks until they are discarded.
      await page.tap(`#inspect .ip-point[data-point="${p6.code}"]`);
      await page.locator('#inspect form.ip-check').waitFor();
      const all = (await call(base, t.inspector, 'GET', `/api/inspections/checklists?version=${roundB.checklist_version}`)).document.types.school;
      await call(base, t.admin, 'POST', `/api/inspections/rounds/${roundB.id}/visits`, {
        point: p6.code, marks: all.map((c) => ({ criterion: c.code, pass: true })),
      });
      await page.locator(`#inspect .ip-item[data-criterion="${crit}"] input[value="fail"]`).check();
      await page.locator(`#inspect .ip-item[data-criterion="${crit}"] textarea`).fill('路面破损');
      // A failure needs its photo: refused in the page until it has one.
      await page.locator('#inspect [data-action="all-pass"]').tap();
      await page.locator('#inspect button[type="submit"]').tap();
      assert.match(await page.locator('#inspect form.ip-check .error').first().textContent(), /请拍摄现场照片/);
      await page.locator(`#inspect .ip-item[data-criterion="${crit}"] input[type="file"]`).setInputFiles({ name: `${crit}.png`, mimeType: 'image/png', buffer: png(9) });
      await page.locator('#inspect button[type="submit"]').tap();
      await page.locator('#inspect [data-action="discard"]').waitFor();
      assert.match(await page.locator('#inspect [data-out="body"] .error').first().textContent(), /本机结果被退回:该点位已按另一份检查结果登记过/);
      assert.equal(await page.locator('#inspect [data-out="queued"]').textContent(), '0', 'a refusal is not waiting to be sent');
      await page.locator('#inspect [data-action="discard"]').tap();
      await page.locator('#inspect [data-out="outbox"]').waitFor({ state: 'hidden' });
      assert.equal(await inspectionCases(), before + 2, 'the refused marks filed nothing');
      assert.deepEqual(record.badResponses.map((r) => r.replace(base, '')), [`409 /api/inspections/rounds/${roundB.id}/visits`]);
      record.badResponses = [];
      record.consoleErrors = record.consoleErrors.filter((e) => !/status of 409/.test(e));

      // Two cut requests: the visit sent while offline and the one whose answer was aborted.
      assertClean(record, { expectedFailures: 2 });
    } finally {
      await ctx.context.close();
    }
  });
});
