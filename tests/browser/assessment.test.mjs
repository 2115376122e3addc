// 考评 on the map page and the public 红黑榜 page, in headless Chromium against the real binary.
// Setup through the API with the demo users: a city scheme that deducts 40 points per failed
// 核查 and shows the top and bottom one on the public board (inspectors too), then five real cases
// through the whole loop (report → 立案 → 派遣 → 处置 → 反馈 → 核查 → 结案) in two communities of
// two streets; in the second community the first 核查 fails (返工). Worked out with the default
// weights (10/30/30/30) and the 70/30 捆绑 blend, all in the running week:
// - the department (all five cases, one reworked): own 10 + 30 + 30 + 30 × 4/5 − 40 = 54;
// - the good street (three clean cases): own 100, blended 0.7 × 100 + 0.3 × 54 = 86.2 → B;
// - the bad street (two cases, one reworked): 10 + 30 + 30 + 15 − 40 = 45, blended
//   0.7 × 45 + 0.3 × 54 = 47.7 → D, under the 60-point line: on the 每日晚例会 list;
// - the department blended with its streets, weighted by cases: 0.7 × 54 + 0.3 × (3 × 100 +
//   2 × 45) / 5 = 61.2.
// Then the panel (choropleth by score and by grade, the table, the week and month pickers, a
// click on the map → the scorecard → a case's timeline, the phone layout) and the public page
// (404 before publishing, then the lists and the street map coloured by grade, no login, no name
// of a person, no external request).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  BIN, CHROMIUM, CHROMIUM_ARGS, DESKTOP, PASSWORD, PHONE, ROOT, SHOTS, apiLogin, assertClean, call, freePort, idle,
  jump, openContext, renderedCounts, startWangge,
} from './harness.mjs';

const { labelPoints } = await import(path.join(ROOT, 'web', 'js', 'labels.js'));

// With WANGGE_README_SHOTS=1 the screenshots of docs/assessment.md are refreshed too.
const DOCS = path.join(ROOT, 'docs');
const HANDLER_UNIT = 'dept-410103-cgzf'; // demo_handler's unit (src/demo.rs)
// Grade colours of the panel and the board (web/js/kaoping.js, bands A … E).
const GRADE_COLOUR = { A: '#1a9850', B: '#91cf60', C: '#fee08b', D: '#fc8d59', E: '#d73027' };

/** One case through the whole loop; with `rework` its first 核查 fails. Returns the case. */
async function runCase(base, t, [lon, lat], key, { rework = false } = {}) {
  const c = await call(base, t.admin, 'POST', '/api/cases', {
    idempotency_key: key, category: '0101', description: '人行道上有暴露垃圾', lon, lat, crs: 'wgs84', register: true,
  });
  const act = (who, body) => call(base, t[who], 'POST', `/api/cases/${c.id}/actions`, body);
  assert.equal(c.status, 'registered', `case ${c.id} is registered (this city dispatches by hand)`);
  await act('dispatcher', { action: 'dispatch', unit_code: HANDLER_UNIT });
  await act('handler', { action: 'accept' });
  await act('handler', { action: 'feedback' });
  if (rework) {
    const back = await act('admin', { action: 'check', passed: false });
    assert.equal(back.status, 'handling');
    await act('handler', { action: 'feedback' });
  }
  await act('admin', { action: 'check', passed: true });
  const closed = await act('shiftlead', { action: 'close' });
  assert.equal(closed.status, 'closed');
  return c;
}

async function loginAs(page, username) {
  if (await page.locator('#login-box [data-action="logout"]').count()) {
    await page.click('#login-box [data-action="logout"]');
  }
  await page.fill('#login-form input[name="username"]', username);
  await page.fill('#login-form input[name="password"]', PASSWORD);
  await page.click('#login-form button[type="submit"]');
  await page.locator('#user-role').waitFor();
}

/** Waits until the panel's status line reports the period asked for (or a failure). */
async function loaded(page, period) {
  await page.waitForFunction((p) => {
    const t = document.querySelector('#kaoping [data-out="status"]')?.textContent ?? '';
    return t.startsWith(p) || t.includes('失败');
  }, period, { timeout: 60_000 });
  const status = await page.locator('#kaoping [data-out="status"]').textContent();
  assert.ok(!status.includes('失败'), status);
}

describe('考评 on the map page and the public 红黑榜', { timeout: 900_000 }, () => {
  let dir;
  let server;
  let browser;
  let ctx;
  let good; // {street, community, point, streetPoint}
  let bad;
  let reworked; // the case whose first check failed
  let week; // the running ISO week, as the server names it
  let adminName;

  before(async () => {
    assert.ok(fs.existsSync(BIN), `wangge binary not found at ${BIN}`);
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wangge-assessment-'));
    // This city dispatches by hand: every registered case waits for the dispatcher.
    const rules = path.join(dir, 'manual-dispatch.json');
    fs.writeFileSync(rules, JSON.stringify({ triage_department: 'cwb', rules: [] }));
    server = await startWangge(dir, await freePort(), { WANGGE_DISPATCH_RULES: rules });
    const base = server.base;
    const t = {};
    for (const u of ['admin', 'dispatcher', 'handler', 'shiftlead']) t[u] = await apiLogin(base, `demo_${u}`);
    adminName = (await call(base, t.admin, 'GET', '/api/auth/me')).display_name;

    const scheme = (await call(base, t.admin, 'GET', '/api/assessment/scheme')).scheme;
    scheme.deductions.per_rework = 40;
    scheme.public = { levels: ['streets', 'departments', 'inspectors'], top_n: 1 };
    await call(base, t.admin, 'PUT', '/api/assessment/scheme', scheme);

    // Two communities of 二七区 in two different streets, each at its pole of inaccessibility.
    const communities = await (await fetch(`${base}/api/layers/community`)).json();
    const streets = await (await fetch(`${base}/api/layers/street`)).json();
    const inner = labelPoints(communities, { precision: 0.05 }).features.filter((f) => f.properties.code.startsWith('410103'));
    const first = inner[0];
    const second = inner.find((f) => f.properties.code.slice(0, 9) !== first.properties.code.slice(0, 9));
    const streetPoints = new Map(labelPoints(streets, { precision: 0.02 }).features.map((f) => [f.properties.code, f.geometry.coordinates]));
    const place = (f) => ({ community: f.properties.code, point: f.geometry.coordinates });
    good = place(first);
    bad = place(second);

    for (let i = 0; i < 3; i++) {
      const c = await runCase(base, t, good.point, `good-${i}`);
      good.street = c.street_code;
      assert.equal(c.community_code, good.community);
    }
    await runCase(base, t, bad.point, 'bad-0');
    reworked = await runCase(base, t, bad.point, 'bad-1', { rework: true });
    bad.street = reworked.street_code;
    assert.notEqual(good.street, bad.street);
    good.streetPoint = streetPoints.get(good.street);
    bad.streetPoint = streetPoints.get(bad.street);
    const ranking = await call(base, t.admin, 'GET', '/api/assessment/rankings?level=streets');
    week = ranking.period;
    assert.deepEqual(ranking.rows.map((r) => [r.key, r.score, r.grade]), [[good.street, 86.2, 'B'], [bad.street, 47.7, 'D']]);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    ctx = await openContext(browser, DESKTOP);
    await ctx.page.goto(`${base}/`);
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

  it('is hidden without a login and from a dispatcher', async () => {
    const { page } = ctx;
    assert.equal(await page.locator('#kaoping').isVisible(), false);
    await loginAs(page, 'demo_dispatcher');
    assert.equal(await page.locator('#kaoping').isVisible(), false);
  });

  it('the public page says in Chinese that nothing is published yet', async () => {
    const pub = await openContext(browser, DESKTOP);
    try {
      await pub.page.goto(`${server.base}/board`);
      const state = await pub.page.evaluate(() => window.wanggeBoard.ready);
      assert.equal(state.published, false);
      assert.match(await pub.page.locator('[data-state="unpublished"]').textContent(), /尚未发布考评结果/);
      // The API's 404 is the expected answer here (and Chromium logs it as a failed resource).
      assert.deepEqual(pub.record.badResponses.map((r) => r.replace(server.base, '')), ['404 /api/public/board']);
      pub.record.badResponses = [];
      pub.record.consoleErrors = pub.record.consoleErrors.filter((e) => !/404/.test(e));
      assertClean(pub.record);
    } finally {
      await pub.context.close();
    }
  });

  it('a planner sees the streets coloured by score and the ranking with the 每日晚例会 list', async () => {
    const { page } = ctx;
    await loginAs(page, 'demo_planner');
    await page.locator('#kaoping').waitFor({ state: 'visible' });
    await loaded(page, week);
    assert.equal(await page.locator('#kaoping [data-action="publish"]').isVisible(), false, 'only an admin publishes');
    // The table: the good street first, the bad one under the line.
    const rows = page.locator('#kaoping [data-out="rows"] tr');
    assert.equal(await rows.count(), 2);
    assert.equal(await rows.nth(0).getAttribute('data-key'), good.street);
    assert.equal(await rows.nth(1).getAttribute('data-key'), bad.street);
    assert.match(await rows.nth(1).textContent(), /47\.7/);
    assert.equal(await rows.nth(1).getAttribute('class'), 'below');
    assert.equal(await page.locator('#kaoping [data-out="rows"] svg.spark').count(), 2, 'a sparkline per unit');
    assert.equal(await page.locator('#kaoping [data-out="evening"] li').count(), 1);
    assert.match(await page.locator('#kaoping [data-out="evening"]').textContent(), /47\.7 分/);
    // The map: both streets filled, nothing else.
    await jump(page, bad.streetPoint, 11);
    const counts = await renderedCounts(page, ['kaoping-street']);
    assert.ok(counts['kaoping-street'] >= 2, `both streets rendered: ${JSON.stringify(counts)}`);
    const codes = await page.evaluate(() => [...new Set(window.wangge.map.queryRenderedFeatures({ layers: ['kaoping-street'] })
      .map((f) => f.properties.code))].sort());
    assert.deepEqual(codes, [good.street, bad.street].sort());
    await page.screenshot({ path: path.join(SHOTS, 'desktop-kaoping.png') });
  });

  it('colours by grade on request, and the communities from zoom 12.5', async () => {
    const { page } = ctx;
    await page.locator('#kaoping input[name="colour"][value="grade"]').check();
    const colour = await page.evaluate(() => window.wangge.map.getPaintProperty('kaoping-street', 'fill-color'));
    const after = (key) => colour[colour.indexOf(key) + 1];
    assert.equal(after(good.street), GRADE_COLOUR.B);
    assert.equal(after(bad.street), GRADE_COLOUR.D);
    assert.match(await page.locator('#kaoping [data-out="legend"]').textContent(), /A ≥ 90/);
    await jump(page, bad.point, 14);
    const counts = await renderedCounts(page, ['kaoping-community', 'kaoping-street']);
    assert.ok(counts['kaoping-community'] > 0, 'communities coloured');
    assert.equal(counts['kaoping-street'], 0, 'streets give way to communities');
  });

  it('the week picker asks for the week chosen, and the month picker for the month', async () => {
    const { page } = ctx;
    const select = page.locator('#kaoping select[name="period"]');
    const previous = await select.locator('option').nth(1).getAttribute('value');
    assert.match(previous, /^\d{4}-W\d{2}$/);
    await select.selectOption(previous);
    await loaded(page, previous);
    assert.ok(ctx.record.urls.some((u) => u.includes(`/api/assessment/rankings?level=streets&period=${previous}`)));
    assert.ok(ctx.record.urls.some((u) => u.includes(`/api/assessment/trend?level=streets&period=${previous}&periods=12`)));
    assert.match(await page.locator('#kaoping [data-out="rows"]').textContent(), /本期没有计入考评的街道/);
    assert.equal(await page.evaluate(() => window.wangge.map.getLayoutProperty('kaoping-street', 'visibility')), 'none');
    await page.locator('#kaoping select[name="kind"]').selectOption('month');
    const month = await select.inputValue();
    assert.match(month, /^\d{4}-\d{2}$/);
    await loaded(page, month);
    assert.equal(await page.locator('#kaoping [data-out="rows"] tr[data-key]').count(), 2);
    await page.locator('#kaoping select[name="kind"]').selectOption('week');
    await loaded(page, week);
  });

  it('a click on a street opens its scorecard, whose 返工 evidence opens the case', async () => {
    const { page } = ctx;
    await page.locator('#kaoping input[name="colour"][value="score"]').check();
    await jump(page, bad.streetPoint, 11);
    const canvas = await page.locator('#map canvas').boundingBox();
    const p = await page.evaluate((c) => window.wangge.map.project(c), bad.streetPoint);
    await page.mouse.click(canvas.x + p.x, canvas.y + p.y);
    const card = page.locator('#kaoping [data-out="card"]');
    await card.locator('[data-field="score"]').waitFor();
    assert.equal(await card.getAttribute('data-key'), bad.street);
    assert.equal(await card.locator('[data-field="score"]').textContent(), '47.7');
    // 1 − 返工率: 1 of 2 reworked, the reworked case is the evidence.
    const rework = card.locator('[data-indicator="rework_free"]');
    assert.match(await rework.locator('summary').textContent(), /50%\(1\/2\)/);
    assert.equal(await rework.locator('.other [data-case]').count(), 1);
    assert.equal(Number(await rework.locator('.other [data-case]').getAttribute('data-case')), reworked.id);
    assert.match(await card.textContent(), /扣分/);
    assert.match(await card.textContent(), /捆绑考评/);
    // The partner department is named (from the unit register: no department ranking is loaded).
    await page.waitForFunction((u) => document.querySelector(`#kaoping [data-name-of="${u}"]`)?.textContent !== u, HANDLER_UNIT);
    // Both streets in view for the screenshot.
    await page.evaluate(([a, b]) => window.wangge.map.fitBounds(
      [[Math.min(a[0], b[0]), Math.min(a[1], b[1])], [Math.max(a[0], b[0]), Math.max(a[1], b[1])]],
      { padding: 120, animate: false, maxZoom: 12.4 },
    ),
      [good.streetPoint, bad.streetPoint]);
    await idle(page);
    await card.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(SHOTS, 'desktop-kaoping-scorecard.png') });
    if (process.env.WANGGE_README_SHOTS) await page.screenshot({ path: path.join(DOCS, 'screenshot-kaoping.png') });
    await rework.locator('.other [data-case]').click();
    await page.locator(`#info[data-case="${reworked.id}"] .timeline`).waitFor({ timeout: 30_000 });
    await page.screenshot({ path: path.join(SHOTS, 'desktop-kaoping-case.png') });
  });

  it('an admin publishes the week from the panel, and a department row opens its scorecard', async () => {
    const { page } = ctx;
    await loginAs(page, 'demo_admin');
    await loaded(page, week);
    await page.click('#kaoping [data-action="publish"]');
    await page.waitForFunction(() => /已发布|未生成|失败/.test(document.querySelector('#kaoping [data-out="published"]').textContent));
    assert.equal(await page.locator('#kaoping [data-out="published"]').textContent(), `已发布 ${week} 第 1 版。`);
    await page.locator('#kaoping select[name="level"]').selectOption('departments');
    await page.waitForFunction((u) => document.querySelector(`#kaoping [data-out="rows"] tr[data-key="${u}"]`), HANDLER_UNIT);
    await page.click(`#kaoping [data-out="rows"] [data-unit="${HANDLER_UNIT}"]`);
    const card = page.locator('#kaoping [data-out="card"]');
    await page.waitForFunction((u) => document.querySelector('#kaoping [data-out="card"]')?.dataset.key === u, HANDLER_UNIT);
    assert.equal(await card.locator('[data-field="score"]').textContent(), '61.2');
    assert.match(await card.locator('.kp-score').textContent(), /本单位 54 分/);
    assert.match(await card.locator('[data-indicator="on_time_rate"] summary').textContent(), /100%\(5\/5\)/);
  });

  it('the public page lists the red and black units and colours the streets by grade, without a login', async () => {
    const pub = await openContext(browser, DESKTOP);
    try {
      await pub.page.goto(`${server.base}/board`);
      const state = await pub.page.evaluate(() => window.wanggeBoard.ready.then((s) => ({ published: s.published })));
      assert.equal(state.published, true);
      const page = pub.page;
      assert.match(await page.locator('#board-period').textContent(), new RegExp(`${week} · 第 1 版`));
      const streets = page.locator('article[data-level="streets"]');
      assert.equal(await streets.locator('[data-list="red"] tr[data-key]').getAttribute('data-key'), good.street);
      assert.equal(await streets.locator('[data-list="black"] tr[data-key]').getAttribute('data-key'), bad.street);
      // Inspectors are listed by rank only.
      const inspectors = page.locator('article[data-level="inspectors"]');
      assert.match(await inspectors.textContent(), /不公开姓名/);
      assert.ok(!(await page.locator('body').textContent()).includes(adminName), 'no person by name');
      // The map: the two streets in their grade colours, the others grey.
      await page.waitForFunction(() => {
        const m = document.querySelector('#board-map canvas');
        return m && m.width > 0;
      });
      const drawn = await page.evaluate(async () => {
        const { map } = await window.wanggeBoard.ready;
        await new Promise((r) => (map.loaded() && !map.isMoving() ? r() : map.once('idle', r)));
        const colour = map.getPaintProperty('street-grade', 'fill-color');
        return { n: map.queryRenderedFeatures({ layers: ['street-grade'] }).length, colour };
      });
      assert.ok(drawn.n > 10, `streets drawn: ${drawn.n}`);
      const after = (key) => drawn.colour[drawn.colour.indexOf(key) + 1];
      assert.equal(after(good.street), GRADE_COLOUR.B);
      assert.equal(after(bad.street), GRADE_COLOUR.D);
      assert.match(await page.locator('#board-legend').textContent(), /本期无考评/);
      await page.screenshot({ path: path.join(SHOTS, 'desktop-board.png'), fullPage: true });
      if (process.env.WANGGE_README_SHOTS) await page.screenshot({ path: path.join(DOCS, 'screenshot-board.png'), fullPage: true });
      assertClean(pub.record);
      assert.ok(pub.record.paths.has('/api/public/board'));
      assert.ok(![...pub.record.paths].some((p) => p.startsWith('/api/assessment')), 'no login-only endpoint');
    } finally {
      await pub.context.close();
    }
  });

  it('the public page and the panel fit a phone', async () => {
    const phone = await openContext(browser, PHONE);
    try {
      const { page } = phone;
      await page.goto(`${server.base}/board`);
      await page.evaluate(() => window.wanggeBoard.ready.then(() => true));
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no sideways scrolling');
      await page.screenshot({ path: path.join(SHOTS, 'phone-board.png'), fullPage: true });
      await page.goto(`${server.base}/`);
      await page.waitForFunction(() => window.wangge !== undefined);
      await idle(page);
      await page.click('#panel-toggle');
      await loginAs(page, 'demo_planner');
      await page.locator('#kaoping').waitFor({ state: 'visible' });
      await loaded(page, week);
      await page.locator('#kaoping').scrollIntoViewIfNeeded();
      const fits = await page.evaluate(() => {
        const r = document.querySelector('#kaoping').getBoundingClientRect();
        const t = document.querySelector('#kaoping table').getBoundingClientRect();
        return r.right <= window.innerWidth && t.right <= r.right + 1;
      });
      assert.ok(fits, 'the panel and its table fit the phone');
      await page.screenshot({ path: path.join(SHOTS, 'phone-kaoping.png') });
      assertClean(phone.record);
    } finally {
      await phone.context.close();
    }
  });

  it('made no external request and logged no error', () => {
    assertClean(ctx.record);
  });
});
