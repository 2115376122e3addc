// 巡查 panel: the inspector's round on a phone. Lists the rounds the logged-in user inspects
// (today's first), a round's points nearest first from the phone's position (the map centre when
// the position is refused), each point's checklist with 合格/不合格 per item, a note and a photo per
// failure, the findings the server answers (案件, 责任单位, 整改时限), and the round's 复查 tasks.
//
// Offline-tolerant: a point's marks and photos are saved in the outbox (outbox.js, IndexedDB)
// before anything is sent, and stay there as 待上传 until the server has answered. A network
// error, a timeout or a 5xx keeps them queued; the queue is retried on the `online` event, when
// the page loads with a session and with the 重试 button. The server files each failure's case
// once per (round, point, criterion), so a retry after a lost answer repeats nothing; photos are
// sent only once the visit's answer names the cases, and each uploaded one is remembered. A 4xx
// is never retried: its message is shown and the marks are kept for the inspector to fix.
//
// Self-contained like planner.js: its own card in the side panel, its own button in the top bar,
// its own source and layer on the map; app.js creates it, passes the session and the map clicks.

import * as api from './api.js';
import * as outbox from './outbox.js';
import { escapeHtml } from './info.js';
import { fileField } from './filefield.js';

// Volunteers (市民找差团) walk the rounds that name them; 复查 is the inspectors' (the server
// refuses it to a volunteer), so their card has no 复查 tasks.
const ROLES = new Set(['inspector', 'admin', 'volunteer']);
/** A request that has not answered in this time is given up and retried later. */
const TIMEOUT_MS = 20_000;
/** How long to wait for the phone's position before measuring from the map centre. */
const LOCATE_MS = 6_000;
const MAX_NOTE = 500;
const LAYER = 'inspect-points';

const STATE_ZH = {
  todo: '未检查', queued: '待上传', rejected: '被退回', issues: '整改中', recheck: '待复查', passed: '达标',
};
const STATE_COLOUR = {
  todo: '#5f6b76', queued: '#e69500', rejected: '#b3261e', issues: '#d73027', recheck: '#7b3fa0', passed: '#1a9850',
};
const ORGANISER_ZH = { city: '市督查', district: '区督查', undercover: '明察暗访', volunteers: '市民找差团' };

/** The server's refusals in the inspector's terms; the server's own message follows in brackets. */
const ERROR_ZH = {
  conflict: '该点位已按另一份检查结果登记过,同一点位只能登记一次;请核对后联系督查组织方。',
  invalid_field: '检查结果填写不完整或有误,请修改后重新提交。',
  not_found: '督查轮次、点位或问题不存在(可能已被删除)。',
  out_of_scope: '您不是这轮督查的检查人员。',
  forbidden_role: '您的角色不能提交督查结果。',
  outside_area: '该点位不在本系统服务范围内。',
  unknown_category: '检查项对应的问题类别已不存在,请联系管理员。',
  payload_too_large: '照片太大,请重新拍摄较小的照片。',
  unsupported_media_type: '照片格式不支持,请使用 JPEG、PNG 或 WebP。',
  unauthorized: '登录已失效,请重新登录;结果仍保存在本机。',
};

export function errorZh(e) {
  if (!(e instanceof api.ApiError)) {
    return e?.name === 'AbortError' ? '服务器长时间无应答,稍后自动重试。' : '网络不可用,结果已保存在本机,恢复网络后自动上传。';
  }
  if (e.status >= 500) return '服务器暂时出错,稍后自动重试。';
  const head = ERROR_ZH[e.code] ?? `提交被拒绝(${e.status})。`;
  return e.message && e.message !== e.code ? `${head}(${e.message})` : head;
}

/** Whether a failed request is worth sending again as it is. */
function retryable(e) {
  if (!(e instanceof api.ApiError)) return true; // network error or timeout
  return e.status >= 500 || e.status === 408 || e.status === 429 || e.status === 401;
}

async function call(path, opts = {}) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  try {
    return await api.request(path, { ...opts, signal: ctl.signal });
  } finally {
    clearTimeout(timer);
  }
}

/** Great-circle distance in metres between two WGS84 [lon, lat] points (mean Earth radius). */
export function metres([lon1, lat1], [lon2, lat2]) {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6_371_008.8 * Math.asin(Math.min(1, Math.sqrt(a)));
}

export const distanceZh = (m) => (m < 1000 ? `${Math.round(m)} 米` : `${(m / 1000).toFixed(1)} 公里`);

/** Today in Beijing, YYYY-MM-DD (a round's date is a Beijing calendar day). */
const todayBeijing = () => new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai' }).format(new Date());

function timeZh(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso ?? '';
  return new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai', month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false,
  }).format(d);
}

/** A point's state in this round from its findings and the outbox. */
export function pointState(p, queued) {
  if (queued) return queued.rejected ? 'rejected' : 'queued';
  if (!p.visited) return 'todo';
  if (p.findings.some((f) => f.status === 'rectifying')) return 'issues';
  if (p.findings.some((f) => f.status === 'awaiting_recheck')) return 'recheck';
  return 'passed';
}

export class InspectPanel {
  constructor(map, container, { onPick = () => {} } = {}) {
    this.map = map;
    this.onPick = onPick;
    this.session = null;
    this.rounds = [];
    this.report = null;
    this.checklists = new Map(); // version → types
    this.queue = [];
    this.here = null;
    this.hereSource = '';
    this.open = null; // the open point's code
    this._view = ''; // what the card shows: '' the list, else the open point
    this.notes = new Map(); // point → photo errors after its record left the outbox
    this.el = document.createElement('section');
    this.el.className = 'card inspect';
    this.el.id = 'inspect';
    this.el.hidden = true;
    this.el.setAttribute('aria-label', '巡查');
    this.el.innerHTML = `
      <h2>巡查 <small class="muted">督查点位检查</small></h2>
      <p class="ip-outbox" data-out="outbox" hidden>
        <span>待上传 <b data-out="queued">0</b> 个点位</span>
        <button type="button" data-action="retry">重试</button>
      </p>
      <p class="error" data-out="outbox-error" role="alert"></p>
      <label class="ip-round">督查轮次 <select name="round"></select></label>
      <div data-out="body"></div>`;
    const login = container.querySelector('#login-box');
    container.insertBefore(this.el, login ? login.nextSibling : null);

    // A top-bar button: the round is the inspector's main job, one tap away on a phone.
    this.button = document.createElement('button');
    this.button.type = 'button';
    this.button.id = 'round-toggle';
    this.button.hidden = true;
    this.button.innerHTML = '巡查 <span class="badge" data-out="badge" hidden></span>';
    document.querySelector('#topbar h1')?.after(this.button);
    this.button.addEventListener('click', () => this.show());

    this.el.querySelector('[name=round]').addEventListener('change', (e) => this.selectRound(Number(e.target.value)));
    this.el.addEventListener('click', (e) => this._click(e));
    this.el.addEventListener('input', (e) => this._input(e));
    this.el.addEventListener('change', (e) => this._change(e));
    this.el.addEventListener('submit', (e) => {
      e.preventDefault();
      if (e.target.matches('form.ip-check')) this.submit(e.target);
    });
    window.addEventListener('online', () => this.flush());
    map.once('load', () => {
      map.addSource(LAYER, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
      map.addLayer({
        id: LAYER, type: 'circle', source: LAYER,
        paint: {
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 6, 16, 11],
          'circle-color': ['get', 'colour'],
          'circle-stroke-color': '#fff',
          'circle-stroke-width': ['case', ['get', 'open'], 4, 2],
        },
      });
      this._draw();
    });
  }

  get user() { return this.session?.user?.username ?? ''; }
  get volunteer() { return this.session?.user?.role === 'volunteer'; }

  async setSession(session) {
    this.session = session && ROLES.has(session.user?.role) ? session : null;
    this.el.hidden = !this.session;
    this.button.hidden = !this.session;
    this.report = null;
    this.open = null;
    if (!this.session) {
      this.rounds = [];
      this.queue = [];
      this._draw();
      return;
    }
    await this._loadQueue();
    this._render();
    await this.loadRounds();
    this.flush();
  }

  /** Opens the side panel on this card. */
  show() {
    this.onPick(true);
    this.el.scrollIntoView({ block: 'start' });
  }

  // --- data ---------------------------------------------------------------------------------

  async loadRounds() {
    try {
      const all = await call('/api/inspections/rounds');
      const me = this.session?.user;
      const mine = me?.role === 'admin' ? all : all.filter((r) => r.inspectors.includes(me?.id));
      const today = todayBeijing();
      // Today's rounds first, then the newest.
      mine.sort((a, b) => (b.round_date === today) - (a.round_date === today)
        || b.round_date.localeCompare(a.round_date) || b.id - a.id);
      this.rounds = mine;
    } catch (e) {
      this._error(`督查轮次加载失败:${errorZh(e)}`);
      return;
    }
    const select = this.el.querySelector('[name=round]');
    const today = todayBeijing();
    select.innerHTML = this.rounds.length
      ? this.rounds.map((r) => `<option value="${r.id}">${r.round_date === today ? '今天 · ' : `${escapeHtml(r.round_date)} · `}${escapeHtml(r.title)}(${escapeHtml(ORGANISER_ZH[r.organiser] ?? r.organiser)},${r.points.length} 个点位)</option>`).join('')
      : '<option value="">暂无分配给您的督查轮次</option>';
    const keep = this.report && this.rounds.some((r) => r.id === this.report.round.id) ? this.report.round.id : this.rounds[0]?.id;
    if (keep) {
      select.value = String(keep);
      await this.selectRound(keep);
    } else {
      this._render();
    }
  }

  async selectRound(id) {
    this.open = null;
    await Promise.all([this.refresh(id), this.locate()]);
  }

  /** Reloads the round's follow-up (points, visits, findings as they stand now). */
  async refresh(id = this.report?.round.id) {
    if (!id) return;
    try {
      const report = await call(`/api/inspections/rounds/${id}`);
      await this._checklist(report.round.checklist_version);
      this.report = report;
      this._error('');
    } catch (e) {
      this._error(`督查轮次加载失败:${errorZh(e)}`);
    }
    this._render();
  }

  /** The round's checklists version (its point types → criteria); kept for use offline. */
  async _checklist(version) {
    if (this.checklists.has(version)) return this.checklists.get(version);
    const cacheKey = `wangge.checklists.${version}`;
    let types;
    try {
      types = (await call(`/api/inspections/checklists?version=${version}`)).document.types;
      try { localStorage.setItem(cacheKey, JSON.stringify(types)); } catch { /* full: memory only */ }
    } catch (e) {
      const cached = localStorage.getItem(cacheKey);
      if (!cached) throw e;
      types = JSON.parse(cached);
    }
    this.checklists.set(version, types);
    return types;
  }

  /** The phone's position, or the map centre when it is refused or slow. */
  async locate() {
    const fix = await new Promise((resolve) => {
      if (!navigator.geolocation) return resolve(null);
      navigator.geolocation.getCurrentPosition(
        (p) => resolve([p.coords.longitude, p.coords.latitude]),
        () => resolve(null),
        { enableHighAccuracy: true, timeout: LOCATE_MS, maximumAge: 30_000 },
      );
    });
    if (fix) {
      this.here = fix;
      this.hereSource = '按手机定位';
    } else {
      const c = this.map.getCenter();
      this.here = [c.lng, c.lat];
      this.hereSource = '未能定位,按地图中心';
    }
    this._render();
  }

  async _loadQueue() {
    try {
      this.queue = this.user ? await outbox.list(this.user) : [];
    } catch {
      this.queue = [];
    }
  }

  _queued(point) {
    return this.queue.find((r) => r.round_id === this.report?.round.id && r.point === point);
  }

  /** The round's points with their state and distance, nearest first. */
  _points() {
    if (!this.report) return [];
    const out = this.report.points.map((p) => {
      const queued = this._queued(p.code);
      const place = p.point?.place;
      return {
        ...p,
        queued,
        state: pointState(p, queued),
        distance: place && this.here ? metres(this.here, place) : null,
      };
    });
    return out.sort((a, b) => (a.distance ?? Infinity) - (b.distance ?? Infinity) || a.code.localeCompare(b.code));
  }

  // --- the outbox -----------------------------------------------------------------------------

  /** Sends every queued visit of this user (one pass at a time). */
  flush() {
    if (!this.session) return Promise.resolve();
    this.flushing ??= (async () => {
      await this._loadQueue();
      let error = '';
      let reached = false; // the server answered at least once: the follow-up has news
      for (const rec of this.queue) {
        if (rec.rejected) continue;
        const e = await this._send(rec);
        if (e) error = e;
        if (!e || rec.findings) reached = true;
      }
      await this._loadQueue();
      if (this.report && reached) await this.refresh();
      else this._render();
      this._error(error);
    })().finally(() => { this.flushing = null; });
    return this.flushing;
  }

  /** One record: the visit, then each failure's photo. Returns the error to show, if any. */
  async _send(rec) {
    if (!rec.findings) {
      try {
        const answer = await call(`/api/inspections/rounds/${rec.round_id}/visits`, {
          method: 'POST', body: { point: rec.point, marks: rec.marks },
        });
        rec.findings = answer.findings;
        rec.last_error = null;
        await outbox.put(rec);
      } catch (e) {
        if (retryable(e)) rec.last_error = errorZh(e);
        else rec.rejected = errorZh(e);
        await outbox.put(rec);
        return rec.rejected ? '' : rec.last_error;
      }
    }
    for (const f of rec.findings) {
      const blob = rec.photos?.[f.criterion];
      if (!blob || rec.uploaded[f.criterion] || rec.photo_errors[f.criterion]) continue;
      try {
        await call(`/api/cases/${f.case_id}/photos?stage=before`, {
          method: 'POST', body: blob, contentType: blob.type || 'image/jpeg',
        });
        rec.uploaded[f.criterion] = true;
      } catch (e) {
        if (retryable(e)) {
          rec.last_error = `照片未上传:${errorZh(e)}`;
          await outbox.put(rec);
          return rec.last_error;
        }
        rec.photo_errors[f.criterion] = errorZh(e);
      }
      await outbox.put(rec);
    }
    const failed = Object.entries(rec.photo_errors);
    if (failed.length) this.notes.set(`${rec.round_id}|${rec.point}`, failed.map(([c, m]) => `${c} 的照片未能上传:${m}`));
    await outbox.remove(rec.key);
    return '';
  }

  // --- actions --------------------------------------------------------------------------------

  openPoint(code) {
    this.open = code;
    this._render();
    this._draw();
    this.show();
  }

  async submit(form) {
    const p = this._points().find((x) => x.code === this.open);
    const criteria = this._criteria(p);
    const err = form.querySelector('.error');
    const marks = [];
    const photos = {};
    const missing = [];
    const previous = p.queued;
    for (const c of criteria) {
      const v = form.querySelector(`input[name="m-${CSS.escape(c.code)}"]:checked`)?.value;
      if (!v) { missing.push(c.code); continue; }
      if (v === 'pass') { marks.push({ criterion: c.code, pass: true }); continue; }
      const note = form.querySelector(`textarea[name="n-${CSS.escape(c.code)}"]`).value.trim();
      if (!note) { err.textContent = `「${c.text}」不合格:请写明问题情况。`; return; }
      if ([...note].length > MAX_NOTE) { err.textContent = `「${c.text}」的说明超过 ${MAX_NOTE} 字。`; return; }
      marks.push({ criterion: c.code, pass: false, note });
      const file = form.querySelector(`input[name="f-${CSS.escape(c.code)}"]`).files[0];
      const kept = previous?.photos?.[c.code];
      if (file && file.size > 0) photos[c.code] = file;
      else if (kept) photos[c.code] = kept;
      // The 通报 shows each problem with its photo: a failure is filed with one.
      else { err.textContent = `「${c.text}」不合格:请拍摄现场照片。`; return; }
    }
    if (missing.length) { err.textContent = `还有 ${missing.length} 项未检查(${missing.join('、')})。`; return; }
    const rec = {
      key: outbox.recordKey(this.user, this.report.round.id, p.code),
      user: this.user,
      round_id: this.report.round.id,
      point: p.code,
      point_name: p.point?.name ?? p.code,
      marks,
      photos,
      uploaded: {},
      photo_errors: {},
      findings: null,
      rejected: null,
      last_error: null,
      saved_at: new Date().toISOString(),
    };
    form.querySelector('button[type=submit]').disabled = true;
    try {
      await outbox.put(rec); // saved on the phone before anything is sent
    } catch {
      err.textContent = '无法在本机保存检查结果(浏览器存储不可用),请勿关闭页面并重试。';
      form.querySelector('button[type=submit]').disabled = false;
      return;
    }
    await this._loadQueue();
    this._view = null; // the answer is a new view of the same point
    this._render();
    await this.flush();
  }

  /** Drops the phone's refused marks of a point (its photos go with them). */
  async discard(point) {
    const rec = this._queued(point);
    if (rec) await outbox.remove(rec.key);
    await this._loadQueue();
    this._render();
  }

  async recheck(li, pass) {
    const id = Number(li.dataset.finding);
    const err = li.querySelector('.error');
    const note = li.querySelector('textarea')?.value.trim() ?? '';
    if (!pass && !note) { err.textContent = '复查不合格:请写明仍存在的问题。'; return; }
    if ([...note].length > MAX_NOTE) { err.textContent = `说明超过 ${MAX_NOTE} 字。`; return; }
    for (const b of li.querySelectorAll('button')) b.disabled = true;
    try {
      await call(`/api/inspections/findings/${id}/recheck`, { method: 'POST', body: pass ? { pass } : { pass, note } });
      await this.refresh();
    } catch (e) {
      err.textContent = errorZh(e);
      for (const b of li.querySelectorAll('button')) b.disabled = false;
    }
  }

  /** A tap on the map: opens the round's point under it, if any. */
  handleClick(e) {
    if (!this.session || !this.map.getLayer(LAYER)) return false;
    const r = 12;
    const hit = this.map.queryRenderedFeatures([[e.point.x - r, e.point.y - r], [e.point.x + r, e.point.y + r]], { layers: [LAYER] })[0];
    if (!hit) return false;
    this.openPoint(hit.properties.code);
    return true;
  }

  _click(e) {
    const t = e.target.closest('button');
    if (!t) return;
    const action = t.dataset.action;
    if (action === 'retry') this.flush();
    else if (action === 'refresh') this.refresh();
    else if (action === 'locate') this.locate();
    else if (action === 'open') this.openPoint(t.dataset.point);
    else if (action === 'discard') this.discard(this.open);
    else if (action === 'back') { this.open = null; this._render(); this._draw(); }
    else if (action === 'all-pass') {
      for (const c of this.el.querySelectorAll('.ip-item')) {
        if (!c.querySelector('input:checked')) c.querySelector('input[value=pass]').checked = true;
        this._toggle(c);
      }
    } else if (action === 'recheck-pass') this.recheck(t.closest('li'), true);
    else if (action === 'recheck-fail') {
      const li = t.closest('li');
      const box = li.querySelector('.ip-recheck-note');
      if (box.hidden) { box.hidden = false; box.querySelector('textarea').focus(); } else this.recheck(li, false);
    }
  }

  _input(e) {
    if (e.target.matches('textarea')) {
      const n = [...e.target.value].length;
      const count = e.target.parentElement.querySelector('.count');
      if (count) {
        count.textContent = `${n}/${MAX_NOTE}`;
        count.classList.toggle('bad', n > MAX_NOTE);
      }
    }
  }

  _change(e) {
    const item = e.target.closest('.ip-item');
    if (item && e.target.type === 'radio') this._toggle(item);
    if (item && e.target.type === 'file') {
      const f = e.target.files[0];
      item.querySelector('.ip-photo-state').textContent = f ? `已拍照(${Math.round(f.size / 1024)} KB)` : '';
    }
  }

  /** A failed item shows its note and photo fields. */
  _toggle(item) {
    const fail = item.querySelector('input[value=fail]').checked;
    item.classList.toggle('failed', fail);
    item.querySelector('.ip-fail').hidden = !fail;
  }

  _error(text) {
    this.el.querySelector('[data-out=outbox-error]').textContent = text;
  }

  _criteria(p) {
    const types = this.checklists.get(this.report?.round.checklist_version);
    return (types && p?.point && types[p.point.point_type]) || [];
  }

  // --- rendering ------------------------------------------------------------------------------

  _render() {
    const mine = this.queue.filter((r) => !r.rejected);
    const outboxEl = this.el.querySelector('[data-out=outbox]');
    outboxEl.hidden = this.queue.length === 0;
    this.el.querySelector('[data-out=queued]').textContent = String(mine.length);
    const badge = this.button.querySelector('[data-out=badge]');
    badge.hidden = this.queue.length === 0;
    badge.textContent = String(this.queue.length);
    badge.title = `待上传 ${mine.length} 个点位`;
    const body = this.el.querySelector('[data-out=body]');
    if (!this.report) {
      body.innerHTML = this.rounds.length ? '<p class="muted">正在加载…</p>' : '';
      this._draw();
      return;
    }
    const points = this._points();
    const open = this.open && points.find((p) => p.code === this.open);
    body.innerHTML = open ? this._pointHtml(open) : this._listHtml(points);
    if (open) for (const item of body.querySelectorAll('.ip-item')) this._toggle(item);
    // A new view (a point opened, submitted, or back to the list) starts at the card's top: the
    // panel keeps its scroll position, which a long checklist leaves far below a short answer.
    if (this._view !== (this.open ?? '')) {
      this._view = this.open ?? '';
      this.el.scrollIntoView({ block: 'start' });
    }
    this._draw();
  }

  _listHtml(points) {
    const done = points.filter((p) => p.visited).length;
    const items = points.map((p) => `
      <li><button type="button" class="ip-point" data-action="open" data-point="${escapeHtml(p.code)}" data-state="${p.state}">
        <span class="ip-name">${escapeHtml(p.point?.name ?? p.code)}</span>
        <span class="ip-meta">${escapeHtml(p.point?.point_type_name ?? '')}${p.distance !== null ? ` · <span class="ip-dist">${distanceZh(p.distance)}</span>` : ''}</span>
        <span class="ip-state" style="--c:${STATE_COLOUR[p.state]}">${this._stateText(p)}</span>
      </button></li>`).join('');
    const tasks = points.flatMap((p) => p.findings
      .filter((f) => f.status === 'awaiting_recheck')
      .map((f) => ({ f, p })));
    const rechecks = tasks.map(({ f, p }) => this._recheckHtml(f, p)).join('');
    const recheckSection = this.volunteer ? '' : `
      <h3>复查任务 <span class="count" data-out="recheck-count">${tasks.length}</span></h3>
      ${rechecks ? `<ul class="ip-rechecks">${rechecks}</ul>` : '<p class="muted small">暂无待复查的问题(整改完成、案件结案后出现在这里)。</p>'}`;
    return `
      <p class="muted small">已检查 ${done}/${points.length} 个点位 · 距离${escapeHtml(this.hereSource)}
        <button type="button" class="link" data-action="locate">重新定位</button> ·
        <button type="button" class="link" data-action="refresh">刷新</button></p>
      <ol class="ip-points" aria-label="点位(由近及远)">${items}</ol>${recheckSection}`;
  }

  _stateText(p) {
    const n = p.findings.length;
    const waiting = p.findings.filter((f) => f.status === 'awaiting_recheck').length;
    switch (p.state) {
      case 'queued': return '待上传';
      case 'rejected': return '被退回,请修改';
      case 'todo': return '未检查';
      case 'passed': return n ? `达标 · ${n} 问题已销号` : '达标 · 无问题';
      default: return `已检查 · ${n} 问题${waiting ? ` · ${waiting} 项待复查` : ''}`;
    }
  }

  _recheckHtml(f, p) {
    return `
      <li data-finding="${f.id}">
        <div><strong>${escapeHtml(p.point?.name ?? p.code)}</strong>${p.distance !== null ? ` <span class="muted small">${distanceZh(p.distance)}</span>` : ''}</div>
        <div class="small">${escapeHtml(f.criterion_text)}:${escapeHtml(f.note)}</div>
        <div class="muted small">案件 ${f.case_id} · ${escapeHtml(f.unit_name ?? f.unit_code ?? '未派遣')} · 已整改,待复查</div>
        <div class="ip-recheck-note" hidden>
          <label>仍存在的问题 <span class="count">0/${MAX_NOTE}</span><textarea maxlength="${MAX_NOTE}" rows="2"></textarea></label>
        </div>
        <div class="ip-buttons">
          <button type="button" class="primary" data-action="recheck-pass">复查合格</button>
          <button type="button" data-action="recheck-fail">复查不合格</button>
        </div>
        <p class="error" role="alert"></p>
      </li>`;
  }

  _pointHtml(p) {
    const head = `
      <div class="ip-head">
        <button type="button" data-action="back">‹ 点位列表</button>
        <span class="ip-state" style="--c:${STATE_COLOUR[p.state]}">${escapeHtml(STATE_ZH[p.state])}</span>
      </div>
      <h3 class="ip-title">${escapeHtml(p.point?.name ?? p.code)}</h3>
      <p class="muted small">${escapeHtml(p.point?.point_type_name ?? '')} · <span class="code">${escapeHtml(p.code)}</span>${p.distance !== null ? ` · ${distanceZh(p.distance)}` : ''}
        ${p.point?.street_name ? `<br>${escapeHtml(p.point.street_name)} ${escapeHtml(p.point.community_name ?? '')}` : ''}</p>`;
    if (p.state === 'queued') {
      const fails = p.queued.marks.filter((m) => !m.pass);
      return `${head}
        <div class="ip-pending" role="status"><strong>待上传</strong>:检查结果已保存在本机(${p.queued.marks.length} 项,${fails.length} 项不合格),恢复网络后自动上传。
        ${p.queued.last_error ? `<p class="small">${escapeHtml(p.queued.last_error)}</p>` : ''}
        <button type="button" data-action="retry">重试</button></div>`;
    }
    if (p.queued?.rejected && p.visited) {
      // Refused for good (e.g. 409: recorded with other marks): the recorded visit stands; the
      // phone's own marks are shown until the inspector discards them.
      return `${head}<p class="error" role="alert">本机结果被退回:${escapeHtml(p.queued.rejected)}</p>
        <button type="button" data-action="discard">放弃本机结果</button>${this._findingsHtml(p)}`;
    }
    if (p.visited) return head + this._findingsHtml(p);
    return head + this._formHtml(p);
  }

  _findingsHtml(p) {
    const note = this.notes.get(`${this.report.round.id}|${p.code}`);
    const warn = note ? `<p class="warn">${note.map(escapeHtml).join('<br>')}</p>` : '';
    if (!p.findings.length) return `${warn}<p class="ok">已检查,全部合格。</p>`;
    const rows = p.findings.map((f) => `
      <li data-case="${f.case_id}" data-status="${escapeHtml(f.status)}">
        <div><strong>${escapeHtml(f.criterion_text)}</strong></div>
        <div class="small">${escapeHtml(f.note)}</div>
        <div class="small">案件 <b class="ip-case">${f.case_id}</b> · 责任单位 <b class="ip-unit">${escapeHtml(f.unit_name ?? f.unit_code ?? '待派遣')}</b></div>
        <div class="small muted">整改时限 ${escapeHtml(timeZh(f.deadline))}${f.overdue ? ' <span class="bad">已超期</span>' : ''} · <span class="ip-fstatus">${escapeHtml(f.status_zh)}</span></div>
      </li>`).join('');
    const tasks = this.volunteer ? ''
      : p.findings.filter((f) => f.status === 'awaiting_recheck').map((f) => this._recheckHtml(f, p)).join('');
    // A volunteer's findings go to 核实 by the grid's inspector before they become cases.
    const lead = this.volunteer ? '已转网格监督员核实,属实后立案派遣' : '已立案派遣';
    return `${warn}<p>发现 ${p.findings.length} 个问题,${lead}:</p>
      <ol class="ip-findings">${rows}</ol>
      ${tasks ? `<h3>复查</h3><ul class="ip-rechecks">${tasks}</ul>` : ''}`;
  }

  _formHtml(p) {
    const criteria = this._criteria(p);
    const prev = new Map((p.queued?.marks ?? []).map((m) => [m.criterion, m]));
    const photos = p.queued?.photos ?? {};
    const items = criteria.map((c, i) => {
      const m = prev.get(c.code);
      const name = escapeHtml(c.code);
      return `
      <fieldset class="ip-item" data-criterion="${name}">
        <legend>${i + 1}. ${escapeHtml(c.text)} <span class="muted small">扣 ${c.deduction} 分</span></legend>
        <div class="ip-toggle">
          <label class="ok-btn"><input type="radio" name="m-${name}" value="pass"${m?.pass ? ' checked' : ''}> 合格</label>
          <label class="fail-btn"><input type="radio" name="m-${name}" value="fail"${m && !m.pass ? ' checked' : ''}> 不合格</label>
        </div>
        <div class="ip-fail" hidden>
          <label>问题说明(必填) <span class="count">${[...(m?.note ?? '')].length}/${MAX_NOTE}</span>
            <textarea name="n-${name}" maxlength="${MAX_NOTE}" rows="3" placeholder="例如:东门外三处占道摆摊">${escapeHtml(m?.note ?? '')}</textarea></label>
          ${fileField({ name: `f-${name}`, label: '现场照片', accept: 'image/*', className: 'ip-photo' })}
          <span class="ip-photo-state small muted">${photos[c.code] ? '已保存照片(可重新拍摄替换)' : ''}</span>
        </div>
      </fieldset>`;
    }).join('');
    const rejected = p.queued?.rejected
      ? `<p class="error" role="alert">上次提交被退回:${escapeHtml(p.queued.rejected)}</p>` : '';
    return `
      <form class="ip-check" novalidate>
        ${rejected}
        <p class="muted small">共 ${criteria.length} 项,逐项标记;不合格须写明情况并拍照。</p>
        <button type="button" data-action="all-pass">其余全部合格</button>
        ${items}
        <p class="error" role="alert"></p>
        <button type="submit" class="primary ip-submit">提交检查结果</button>
      </form>`;
  }

  _draw() {
    const src = this.map.getSource(LAYER);
    if (!src) return;
    const features = this._points().filter((p) => p.point?.place).map((p) => ({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: p.point.place },
      properties: { code: p.code, state: p.state, colour: STATE_COLOUR[p.state], open: p.code === this.open },
    }));
    src.setData({ type: 'FeatureCollection', features });
  }
}
