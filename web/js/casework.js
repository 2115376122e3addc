// Case work on the map page, by role: report by clicking the map (inspector, intake clerk, and a
// 市民找差团 volunteer, who then follows only their own reports: see volunteer.js),
// verify and check (inspector, own grids), register (intake clerk, shift lead), dispatch and the
// triage queue (dispatcher), accept and feed back (handler, own unit), close (shift lead), and the
// side requests: 延时/回退 (handler), 挂账 (dispatcher, shift lead), 作废 (intake clerk, dispatcher,
// shift lead), decided by their approvers (批准/驳回), and 恢复 of a parked case (shift lead).
// The page holds no table of who may do what: every case view from the server carries
// `allowed_actions` and `allowed_requests` for the logged-in user (decided by the workflow's state
// machine with the user's role and scope), and exactly those are offered. The server decides
// again when the action comes; its 403/409 answers (a stale page) are shown in Chinese.

import * as api from './api.js';
import { escapeHtml } from './info.js';
import { zhPart, ownerChainHtml } from './owner.js';
import { STATUS, LIGHT, FINAL, PINS_FROM_ZOOM } from './cases.js';
import { ownReportsCard, ownReportHtml } from './volunteer.js';
import { fileField } from './filefield.js';

/** The demo catalogue (src/domain/catalogue.rs), used when the server has no GET /api/categories. */
const FALLBACK_CATEGORIES = [
  ['0101', '暴露垃圾'], ['0102', '积存渣土'], ['0103', '道路不洁'], ['0104', '绿地脏乱'], ['0105', '河道不洁'],
  ['0106', '垃圾满溢'], ['0201', '占道经营'], ['0202', '店外经营'], ['0203', '流动摊贩'],
  ['0301', '乱停乱放(机动车)'], ['0302', '非机动车乱停放'], ['0401', '私搭乱建'], ['0501', '小广告'],
  ['0502', '乱涂乱画'], ['0601', '井盖缺失'], ['0602', '路灯不亮'],
].map(([code, name_zh]) => ({ code, name_zh }));

/** Chinese first: what the error means for the user, then the server's own message. */
const ERROR_ZH = {
  forbidden_role: '您的角色不能办理此操作。',
  forbidden: '您的角色不能办理此操作。',
  out_of_scope: '该案件不在您的责任范围内(网格或单位)。',
  invalid_transition: '案件当前状态不允许此操作,可能已被他人办理,请刷新后再试。',
  request_pending: '案件有待审批的申请,审批前不能办理。',
  nothing_pending: '没有待审批的申请。',
  conflict: '案件刚被他人更新,请刷新后再试。',
  unauthorized: '登录已失效,请重新登录。',
  invalid_field: '填写内容有误。',
  unknown_category: '问题类别不存在。',
  outside_area: '该位置不在本系统服务范围内。',
  invalid_coordinate: '位置坐标无效。',
  payload_too_large: '照片太大。',
  unsupported_media_type: '照片格式不支持,请使用 JPEG、PNG 或 WebP。',
  not_found: '找不到该案件或接口。',
  reason_required: '所选单位不在案件所在地的归属链上:确需跨辖区派遣,请在“办理意见”中写明理由。',
};

export function errorZh(e) {
  if (!(e instanceof api.ApiError)) return '无法连接服务,请检查网络后重试。';
  const head = ERROR_ZH[e.code] ?? (e.status === 403 ? '没有权限办理此操作。' : e.status === 409 ? '当前无法办理,请刷新后再试。' : '操作失败。');
  const detail = e.message && e.message !== e.code ? zhPart(e.message) : '';
  return detail ? `${head}(${detail})` : head;
}

const ACTION_ZH = {
  'case.created': '上报', 'case.verify': '核实', 'case.register': '立案', 'case.dispatch': '派遣',
  'case.accept': '接收', 'case.feedback': '反馈', 'case.check': '核查', 'case.close': '结案',
  'case.request': '申请', 'case.approve': '批准', 'case.reject': '驳回', 'case.resume': '恢复',
  'case.photo': '照片', 'case.photo_added': '添加照片', 'case.auto_dispatch': '自动派遣', 'case.escalate': '督办', 'case.linked': '关联重复上报',
};
const LEVEL_ZH = {
  grid: '单元网格', community: '社区/村', street: '街道/镇', district: '区', frontage: '门前三包',
  railway_land: '铁路用地', urban_village: '城中村', back_alley: '背街小巷', department: '主管部门', inspection_site: '测评点位',
};
const SOURCE_ZH = { inspector: '监督员上报', hotline_12345: '12345 热线', citizen: '市民随手拍', history: '历史导入' };
const STAGE_ZH = { before: '处置前', after: '处置后' };

/** Buttons: action key → [label, API action, extra body]. */
const BUTTONS = {
  verify_yes: ['核实属实', 'verify', { confirmed: true }],
  verify_no: ['核实不属实(作废)', 'verify', { confirmed: false }],
  register: ['立案', 'register', {}],
  dispatch: ['派遣', 'dispatch', {}],
  accept: ['接收', 'accept', {}],
  feedback: ['反馈(处置完毕)', 'feedback', {}],
  check_pass: ['核查通过', 'check', { passed: true }],
  check_fail: ['核查不通过(返工)', 'check', { passed: false }],
  close: ['结案', 'close', {}],
  request_extend: ['申请延时', 'request', { kind: 'extend' }],
  request_send_back: ['申请回退(派错单位)', 'request', { kind: 'send_back' }],
  request_park: ['申请挂账', 'request', { kind: 'park' }],
  request_void: ['申请作废', 'request', { kind: 'void' }],
  approve: ['批准', 'approve', {}],
  reject: ['驳回', 'reject', {}],
  resume: ['恢复办理', 'resume', {}],
};
/** Buttons drawn plain (not primary): the "no" answers and the side requests. */
const SECONDARY = new Set(['verify_no', 'check_fail', 'reject', 'request_extend', 'request_send_back', 'request_park', 'request_void']);

/** Side requests (RequestKind in src/domain/case.rs) in Chinese. */
export const REQUEST_ZH = { extend: '延时', send_back: '回退', park: '挂账', void: '作废' };

/** Whether the server says the logged-in user may take `action` on case `c` now. */
const may = (c, action) => (c?.allowed_actions ?? []).includes(action);

/**
 * The buttons for case `c`: what the server says the logged-in user may do now
 * (`allowed_actions`, `allowed_requests`). A verification and a check are two buttons each (yes /
 * no); an action the page has no button for (link: the intake desk links duplicates elsewhere) is
 * left out.
 */
export function allowedActions(c) {
  const requests = c?.allowed_requests ?? [];
  return (c?.allowed_actions ?? []).flatMap((a) => {
    if (a === 'verify') return ['verify_yes', 'verify_no'];
    if (a === 'check') return ['check_pass', 'check_fail'];
    if (a === 'request') return requests.map((k) => `request_${k}`).filter((k) => k in BUTTONS);
    return a in BUTTONS ? [a] : [];
  });
}

/** The work lists of a role: [id, title, predicate(case, user)]. */
function worklists(user) {
  const mineUnit = (c) => !!user.unit_code && c.unit_code === user.unit_code;
  const active = (c) => !FINAL.includes(c.status);
  switch (user.role) {
    case 'inspector': return [
      ['verify', '待核实(我的网格)', (c) => may(c, 'verify')],
      ['check', '待核查(我的网格)', (c) => may(c, 'check')],
      ['mine', '我上报的在办案件', (c) => c.reported_by === user.id && active(c)],
    ];
    case 'intake_clerk': return [
      ['register', '待立案', (c) => may(c, 'register')],
      ['verifying', '热线待核实', (c) => c.status === 'verifying'],
    ];
    case 'shift_lead': return [
      ['decide', '待审批申请', (c) => may(c, 'approve')],
      ['register', '待立案', (c) => may(c, 'register')],
      ['close', '待结案', (c) => may(c, 'close')],
      ['parked', '挂账案件', (c) => c.status === 'parked'],
    ];
    case 'dispatcher': return [
      ['decide', '待审批申请', (c) => may(c, 'approve')],
      ['triage', '创文办分拣队列', (c) => c.queue === 'triage'],
      ['dispatch', '待派遣', (c) => may(c, 'dispatch') && c.queue !== 'triage'],
      ['red', '超期案件', (c) => c.light === 'red' && active(c)],
    ];
    case 'handler': return [
      ['accept', '待接收(本单位)', (c) => may(c, 'accept')],
      ['handling', '处置中(本单位)', (c) => c.status === 'handling' && mineUnit(c)],
      ['fed_back', '已反馈待核查(本单位)', (c) => c.status === 'fed_back' && mineUnit(c)],
      ['requested', '申请待审批(本单位)', (c) => !!c.pending_request && mineUnit(c)],
    ];
    default: return [['recent', '在办案件', active]];
  }
}

const REPORTERS = ['inspector', 'intake_clerk', 'admin', 'volunteer'];

/**
 * Whether `unit` answers for the case's place (mirrors `unit_fits_place` in
 * src/domain/dispatch.rs): a city-wide unit, a unit of the case's district, street or community,
 * or one named in its owner chain. A case with no district fits any unit.
 */
export function unitFitsPlace(unit, c) {
  if (!c?.district_code || !unit?.parent_code) return true;
  if ([c.district_code, c.street_code, c.community_code].includes(unit.parent_code)) return true;
  return (Array.isArray(c.owner_chain) ? c.owner_chain : []).some((l) => l.unit_code === unit.code);
}
const isVolunteer = (session) => session?.user?.role === 'volunteer';

function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false,
  }).format(d);
}

/** Which request a request/approve/reject event was about (from its before/after state). */
function requestZh(ev) {
  const d = ev.detail ?? {};
  const kind = ev.action === 'case.request' ? (d.kind ?? d.after?.pending_request)
    : ['case.approve', 'case.reject'].includes(ev.action) ? (d.kind ?? d.before?.pending_request) : null;
  return kind ? (REQUEST_ZH[kind] ?? kind) : '';
}

/** Who acted, as a person's name: the display name, 系统 for the service itself, else the login. */
const actorZh = (ev) => ev.actor_display_name || (ev.actor_id == null ? (ev.actor_name ? '系统' : '') : ev.actor_name ?? '');

/** The dispatch rules' names (src/domain/dispatch.rs and the city's rule table) in Chinese. */
const RULE_ZH = {
  manual: '人工派遣', sent_back: '回退后待重派', department: '按类别派至区职能部门', territorial: '属地兜底',
  frontage_shop: '门前三包:责任商户自行整改', frontage_ambiguous: '门前三包责任商户不明(创文办研判)',
  railway_land: '铁路用地:铁路部门,所在街道共同负责', no_owner: '无规则可定(创文办研判)',
  unassigned: '不在任何单元网格内(创文办研判)',
};
const ruleZh = (r) => RULE_ZH[r] ?? '按本市派遣规则';

const statusChip = (c) => {
  const [label, color] = STATUS[c.status] ?? [c.status_zh ?? c.status, '#777'];
  return `<span class="chip" data-field="status" data-status="${escapeHtml(c.status)}" style="background:${color}">${escapeHtml(c.status_zh ?? label)}</span>`;
};
const lightChip = (c) => (c.light
  ? `<span class="chip light" data-field="light" style="border-color:${LIGHT[c.light]?.[1] ?? '#777'}">${escapeHtml(LIGHT[c.light]?.[0] ?? c.light)}</span>`
  : '');

function newKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  return `k-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

export class CaseWork {
  /**
   * @param map the MapLibre map
   * @param info the InfoPanel (detail and report forms open in it)
   * @param feed the CaseFeed
   * @param box the side-panel card element
   * @param names code → {name} of loaded jurisdictions
   * @param onPick called when the user picked a case or started a report from the side panel
   *   (the page closes the panel on a phone, where it covers the map)
   */
  constructor({ map, info, feed, box, names, onPick = () => {} }) {
    Object.assign(this, { map, info, feed, box, names, onPick });
    this.session = null;
    this.categories = FALLBACK_CATEGORIES;
    this.units = [];
    this.reporting = false;
    this.openCase = null; // id of the case shown in the panel
    // Report mode: a bar saying what to do, with the map centre as a keyboard (and thumb) way to
    // place the report, and a cross-hair marking that centre.
    this.hint = document.createElement('div');
    this.hint.className = 'toast mode report-mode';
    this.hint.setAttribute('role', 'status');
    this.hint.hidden = true;
    this.hint.innerHTML = `<span>点击地图选择问题位置<span class="desktop-only">(Esc 取消)</span>,或</span>
      <button type="button" data-action="report-centre">在地图中心(十字处)上报</button>
      <button type="button" data-action="report-cancel">取消</button>`;
    this.hint.addEventListener('click', (e) => {
      if (e.target.closest('[data-action=report-centre]')) {
        this.setReporting(false);
        this.showReportForm(this.map.getCenter());
      } else if (e.target.closest('[data-action=report-cancel]')) {
        this.setReporting(false);
      }
    });
    this.crosshair = document.createElement('div');
    this.crosshair.className = 'crosshair';
    this.crosshair.hidden = true;
    this.crosshair.setAttribute('aria-hidden', 'true');
    map.getContainer().append(this.crosshair);
    document.body.append(this.hint);
    document.addEventListener('keydown', (e) => { if (e.key === 'Escape') this.setReporting(false); });
    box.addEventListener('click', (e) => this._onBoxClick(e));
    box.addEventListener('change', (e) => this._onBoxChange(e));
    info.el.addEventListener('click', (e) => this._onPanelClick(e));
    info.el.addEventListener('submit', (e) => this._onSubmit(e));
    info.el.addEventListener('change', (e) => { if (e.target.name === 'unit_code') this._checkDispatch(); });
  }

  async setSession(session) {
    this.session = session;
    this.own = null;
    this.ownError = '';
    this.setReporting(false);
    this.box.hidden = !session;
    if (!session) {
      this.box.innerHTML = '';
      this.feed.stop();
      this.feed.start();
      if (this.openCase || this.info.el.dataset.source === 'own-report') this.info.hide();
      return;
    }
    if (await api.hasPath('/api/categories')) {
      const list = await api.request('/api/categories', { auth: false }).catch(() => null);
      if (Array.isArray(list) && list.length) this.categories = list;
    }
    if (session.user.role === 'dispatcher' || session.user.role === 'admin') {
      // Departments first, then street offices (属地 work goes to the street).
      const [depts, streets] = await Promise.all([
        api.units('department').catch(() => []), api.units('street_office').catch(() => []),
      ]);
      this.units = [...depts, ...streets];
    }
    if (isVolunteer(session)) this.loadOwn();
    this.renderBox();
    await this.feed.start();
  }

  /** A volunteer's own reports (GET /api/volunteer/reports), then the card again. */
  async loadOwn() {
    this.own = null;
    this.ownError = '';
    try {
      this.own = await api.volunteerReports();
    } catch (e) {
      this.own = [];
      this.ownError = `我的上报加载失败:${errorZh(e)}`;
    }
    this.renderBox();
  }

  /** One of the volunteer's reports in the panel: status, outcome, the closing note and photos. */
  showOwnReport(r, { fly = false, notice = '' } = {}) {
    this.openCase = null;
    this._marker([r.lon, r.lat]);
    this.info.open({
      source: 'own-report', tag: '我的上报', expanded: true,
      title: `${r.case_no} · ${r.category_name ?? this.categoryName(r.category)}`,
      body: `${notice ? `<p class="error" role="alert">${escapeHtml(notice)}</p>` : ''}${ownReportHtml(r, { categoryName: (c) => this.categoryName(c), time: fmtTime })}`,
    });
    if (fly) this.map.easeTo({ center: [r.lon, r.lat], zoom: Math.max(this.map.getZoom(), 16) });
  }

  categoryName(code) {
    const c = this.categories.find((x) => x.code === code);
    return c?.name_zh ?? c?.name ?? code;
  }

  // --- the side card ---------------------------------------------------------------------------

  renderBox() {
    const s = this.session;
    if (!s) return;
    const u = s.user;
    if (isVolunteer(s)) {
      this.box.innerHTML = ownReportsCard({
        reports: this.own ?? null, error: this.ownError, reporting: this.reporting,
        categoryName: (c) => this.categoryName(c), time: fmtTime,
      });
      return;
    }
    const lists = worklists(u).map(([id, title, pred]) => {
      const items = [...this.feed.cases.values()].filter((c) => pred(c, u)).sort((a, b) => b.id - a.id);
      const li = items.slice(0, 50).map((c) => `
        <li><button type="button" class="case-item" data-case="${c.id}">
          <span class="code">${escapeHtml(c.case_no ?? `AJ${String(c.id).padStart(8, '0')}`)}</span>
          ${escapeHtml(c.category_name ?? this.categoryName(c.category))} ${statusChip(c)}${lightChip(c)}
        </button></li>`).join('');
      return `<details class="worklist" data-list="${id}" ${items.length ? 'open' : ''}>
        <summary>${escapeHtml(title)} <span class="count">${items.length}</span></summary>
        <ul class="case-list">${li || '<li class="muted small">暂无</li>'}</ul></details>`;
    }).join('');
    const cats = this.categories.map((c) => `<option value="${escapeHtml(c.code)}">${escapeHtml(c.code)} ${escapeHtml(c.name_zh ?? c.name)}</option>`).join('');
    const live = { stream: '实时(事件流)', poll: '每 20 秒刷新', off: '未连接' }[this.feed.live] ?? '';
    const hf = this.feed.heatFilter;
    this.box.innerHTML = `
      <h2>案件工作 <small class="muted" id="case-live">${escapeHtml(live)}</small></h2>
      ${REPORTERS.includes(u.role) ? `<button type="button" class="primary" data-action="report" aria-pressed="${this.reporting}">${this.reporting ? '取消上报' : '在地图上上报问题'}</button>` : ''}
      ${lists}
      <details class="heat-filter">
        <summary>案件筛选</summary>
        <label>问题类别 <select data-heat="category"><option value="">全部类别</option>${cats}</select></label>
        <label>起 <input type="date" data-heat="from" value="${escapeHtml(hf.from)}"></label>
        <label>止 <input type="date" data-heat="to" value="${escapeHtml(hf.to)}"></label>
        <p class="muted small">按类别和上报日期筛选地图上的案件与热力图(在“图层”中打开“案件热力图”)。</p>
      </details>`;
    const sel = this.box.querySelector('[data-heat=category]');
    if (sel) sel.value = hf.category;
  }

  _onBoxClick(e) {
    if (e.target.closest('[data-action=report]')) {
      this.setReporting(!this.reporting);
      if (this.reporting) this.onPick();
    }
    if (e.target.closest('[data-action=own-refresh]')) this.loadOwn();
    const own = e.target.closest('[data-own]');
    const report = own && this.own?.find((r) => r.id === Number(own.dataset.own));
    if (report) {
      this.onPick();
      this.showOwnReport(report, { fly: true });
    }
    const item = e.target.closest('[data-case]');
    if (item) {
      this.onPick();
      this.showCase(Number(item.dataset.case), { fly: true });
    }
  }

  _onBoxChange(e) {
    const key = e.target.dataset.heat;
    if (key) this.feed.setHeatFilter({ [key]: e.target.value });
  }

  /** Called by the feed after every change. */
  onCases() {
    if (!this.session) return;
    const open = this.box.querySelectorAll('details[open]');
    const keep = new Set([...open].map((d) => d.dataset.list ?? 'heat'));
    this.renderBox();
    if (keep.has('heat')) this.box.querySelector('.heat-filter')?.setAttribute('open', '');
    // A case shown in the panel that somebody else changed is shown afresh: only for a newer
    // version than the one shown, and not while this page is acting or loading it (the answer to
    // our own action and its echo on the stream must not wipe a form being filled in).
    if (this.openCase && !this.busy && !this.loading && this.info.el.dataset.source === 'case') {
      const c = this.feed.cases.get(this.openCase);
      if (c && this.shownVersion != null && c.version > this.shownVersion) this.showCase(c.id);
    }
  }

  setReporting(on) {
    this.reporting = !!on && !!this.session;
    this.hint.hidden = !this.reporting;
    this.crosshair.hidden = !this.reporting;
    if (this.reporting) this.hint.querySelector('[data-action=report-centre]')?.focus({ preventScroll: true });
    this.map.getCanvas().style.cursor = this.reporting ? 'crosshair' : '';
    document.body.classList.toggle('reporting', this.reporting);
    const btn = this.box.querySelector('[data-action=report]');
    if (btn) {
      btn.setAttribute('aria-pressed', String(this.reporting));
      btn.textContent = this.reporting ? '取消上报' : '在地图上上报问题';
    }
  }

  // --- map clicks ------------------------------------------------------------------------------

  /** Handles a map click for case work; true when it was used. */
  handleClick(e) {
    if (this.reporting) {
      this.setReporting(false);
      this.showReportForm(e.lngLat);
      return true;
    }
    const r = 6;
    const box = [[e.point.x - r, e.point.y - r], [e.point.x + r, e.point.y + r]];
    const layers = ['cases-pin', 'cases-cluster'].filter((id) => this.map.getLayer(id)
      && this.map.getLayoutProperty(id, 'visibility') !== 'none');
    const hit = layers.length ? this.map.queryRenderedFeatures(box, { layers })[0] : null;
    if (!hit) return false;
    if (hit.layer.id === 'cases-cluster') {
      // Server clusters split by zoom: two levels deeper, at most to where every case is a pin.
      const z = this.map.getZoom();
      this.map.easeTo({ center: hit.geometry.coordinates, zoom: Math.max(Math.min(z + 2, PINS_FROM_ZOOM), z + 1) });
    } else {
      this.showCase(Number(hit.properties.id));
    }
    return true;
  }

  _marker(coords) {
    this.map.getSource('selected')?.setData({
      type: 'FeatureCollection',
      features: coords ? [{ type: 'Feature', geometry: { type: 'Point', coordinates: coords }, properties: {} }] : [],
    });
  }

  // --- report -----------------------------------------------------------------------------------

  showReportForm(lngLat) {
    const { lng, lat } = lngLat;
    this.openCase = null;
    this._marker([lng, lat]);
    const cats = this.categories.map((c) => `<option value="${escapeHtml(c.code)}">${escapeHtml(c.code)} ${escapeHtml(c.name_zh ?? c.name)}</option>`).join('');
    this.info.open({
      source: 'report', tag: '上报', title: '上报问题', half: true,
      body: `
        <form id="report-form" class="case-form" data-lon="${lng}" data-lat="${lat}">
          <p class="muted small">位置 ${lng.toFixed(6)}, ${lat.toFixed(6)}(WGS84)</p>
          <label>问题类别 <select name="category" required>${cats}</select></label>
          <label>问题描述 <textarea name="description" rows="2" required placeholder="看到了什么、在哪里"></textarea></label>
          ${fileField({ name: 'photo', label: '现场照片(可选)' })}
          <p class="error" role="alert"></p>
          <div class="buttons"><button type="submit" class="primary" data-act="submit-report">提交上报</button>
          <button type="button" data-action="cancel-report">取消</button></div>
        </form>
        <h3>所在位置 · 归属链</h3><div class="owner-box">正在查询归属…</div>`,
    });
    this._keepVisible([lng, lat]);
    const token = this.info._token;
    api.assign(lng, lat).then((a) => {
      if (this.info._token === token) this._warnOutsideGrids(a);
      return ownerChainHtml(a);
    }, () => ownerChainHtml(null)).then((html) => {
      const box = this.info.el.querySelector('.owner-box');
      if (box && this.info._token === token) {
        box.innerHTML = html;
        this.info._resolveUnits();
      }
    });
  }

  /**
   * On a phone the sheet covers the lower part of the map: pans so that `coords` stays in the
   * part left visible (the picked point must stay in sight while the form is filled in).
   */
  _keepVisible(coords) {
    if (!window.matchMedia('(max-width: 720px)').matches) return;
    const height = this.map.getCanvas().clientHeight;
    const visible = height - this.info.el.offsetHeight;
    const p = this.map.project(coords);
    if (p.y > visible - 32) this.map.panBy([0, p.y - visible / 2], { duration: 0 });
  }

  /**
   * An inspector reporting outside the grids they patrol is told before submitting that the
   * report goes to that grid's inspector for 核实 (the server's rule), not straight to 立案.
   */
  _warnOutsideGrids(a) {
    const user = this.session?.user;
    const form = this.info.el.querySelector('#report-form');
    if (!form || user?.role !== 'inspector') return;
    const grid = a?.grid?.code;
    if (grid && (user.grids ?? []).includes(grid)) return;
    const warn = document.createElement('p');
    warn.className = 'warn';
    warn.dataset.field = 'outside-grids';
    warn.setAttribute('role', 'alert');
    warn.textContent = grid
      ? `该点不在您巡查的网格内(所在网格 ${grid})。上报后将转该网格监督员核实,不会直接立案。`
      : '该点不在任何单元网格内。上报后将转核实,不会直接立案。';
    form.querySelector('.buttons')?.before(warn);
    const btn = form.querySelector('[type=submit]');
    if (btn) btn.textContent = '仍然上报(转核实)';
  }

  async _submitReport(form) {
    const data = new FormData(form);
    const err = form.querySelector('.error');
    const btn = form.querySelector('[type=submit]');
    // One key per form: a double click or a retry after a timeout never makes a second case.
    form.dataset.key ??= newKey();
    btn.disabled = true;
    err.textContent = '';
    const body = {
      idempotency_key: form.dataset.key,
      category: String(data.get('category')),
      description: String(data.get('description')).trim(),
      lon: Number(form.dataset.lon), lat: Number(form.dataset.lat), crs: 'wgs84',
    };
    try {
      if (isVolunteer(this.session)) {
        await this._submitOwnReport(body, data.get('photo'));
        return;
      }
      const c = await api.createCase(body);
      this.feed.upsert(c);
      const photoError = await this._beforePhoto(c.id, data.get('photo'), '案件已上报');
      await this.showCase(c.id, { notice: [c.notice?.message, photoError].filter(Boolean).join(' ') });
    } catch (e) {
      err.textContent = errorZh(e);
      btn.disabled = false;
    }
  }

  /** A volunteer's report: to 核实, then shown as they see it, with their list refreshed. */
  async _submitOwnReport(body, photo) {
    const r = await api.createVolunteerReport(body);
    const photoError = await this._beforePhoto(r.id, photo, '问题已上报');
    this.own = [r, ...(this.own ?? []).filter((x) => x.id !== r.id)];
    this.renderBox();
    this.showOwnReport(r, { notice: photoError });
  }

  /**
   * Adds the report's photo (if one was chosen) once the report exists; a failed upload does not
   * undo the report: the answer is a sentence saying so ('' when all went well).
   */
  async _beforePhoto(id, photo, done) {
    if (!(photo instanceof File) || photo.size === 0) return '';
    try {
      await this._upload(id, 'before', photo);
      return '';
    } catch (e) {
      return `${done},但照片未能上传:${errorZh(e)}`;
    }
  }

  async _upload(id, stage, file) {
    if (!(await api.hasPath('/api/cases/{id}/photos'))) {
      throw new api.ApiError(404, 'not_found', '服务器尚不支持照片上传。');
    }
    return api.uploadPhoto(id, stage, file);
  }

  // --- detail -----------------------------------------------------------------------------------

  /** Opens case `id` in the panel; `notice` is an error to show above it (e.g. a failed photo). */
  async showCase(id, { fly = false, notice = '' } = {}) {
    this.openCase = id;
    let c;
    this.loading = (this.loading ?? 0) + 1;
    try {
      c = await api.getCase(id);
    } catch (e) {
      this.info.open({ source: 'case', tag: '案件', title: `案件 ${id}`, body: `<p class="error" role="alert">${escapeHtml(errorZh(e))}</p>` });
      return;
    } finally {
      this.loading--;
    }
    if (this.openCase !== id) return;
    const view = c.case ?? c; // CaseDetail flattens CaseView; tolerate a nested one too
    this.shownVersion = view.version;
    this.shownCase = view;
    this.feed.upsert({ ...view, timeline: undefined, photos: undefined });
    this._marker([view.lon, view.lat]);
    this.info.open({
      source: 'case', tag: '案件', expanded: true,
      title: `${view.case_no ?? id} · ${view.category_name ?? this.categoryName(view.category)}`,
      body: `${notice ? `<p class="error" role="alert">${escapeHtml(notice)}</p>` : ''}${this._detailHtml(view, c.timeline ?? [], c.photos ?? [])}`,
    });
    this.info.el.dataset.case = String(id);
    this._fillChain();
    this._checkDispatch();
    if (fly) {
      // On a phone the sheet covers the lower part of the map: centre the case above it.
      const phone = window.matchMedia('(max-width: 720px)').matches;
      const covered = phone ? Math.min(this.info.el.offsetHeight, this.map.getCanvas().clientHeight * 0.7) : 0;
      this.map.easeTo({ center: [view.lon, view.lat], zoom: Math.max(this.map.getZoom(), 16), offset: [0, -covered / 2] });
    }
  }

  _detailHtml(c, timeline, photos) {
    const rows = [];
    const add = (k, v, field) => {
      if (v === undefined || v === null || v === '') return;
      rows.push(`<tr><th>${escapeHtml(k)}</th><td${field ? ` data-field="${field}"` : ''}>${v}</td></tr>`);
    };
    add('状态', `${statusChip(c)}${lightChip(c)}`);
    add('问题类别', `${escapeHtml(c.category_name ?? this.categoryName(c.category))} <span class="code">${escapeHtml(c.category)}</span>`);
    add('问题描述', escapeHtml(c.description));
    add('来源', escapeHtml(SOURCE_ZH[c.source] ?? c.source));
    add('上报时间', escapeHtml(fmtTime(c.reported_at)));
    add('派遣时间', c.dispatched_at && escapeHtml(fmtTime(c.dispatched_at)));
    add('处置时限', c.deadline_at && `${escapeHtml(fmtTime(c.deadline_at))}${c.light ? ` · ${escapeHtml(LIGHT[c.light]?.[0] ?? c.light)}` : ''}`, 'deadline');
    add('责任单位', c.unit_code && `<span class="unit" data-unit="${escapeHtml(c.unit_code)}"><span class="code">${escapeHtml(c.unit_code)}</span></span>`, 'unit');
    add('派遣规则', c.dispatch_rule && `<span title="${escapeHtml(c.dispatch_rule)}">${escapeHtml(ruleZh(c.dispatch_rule))}</span>`, 'dispatch-rule');
    add('队列', c.queue === 'triage' ? '创文办分拣队列(需人工派遣)' : c.queue && escapeHtml(c.queue));
    add('共管单位', c.co_owner_unit && `<span class="unit" data-unit="${escapeHtml(c.co_owner_unit)}"><span class="code">${escapeHtml(c.co_owner_unit)}</span></span>`);
    add('执法单位', c.enforcement_unit && `<span class="unit" data-unit="${escapeHtml(c.enforcement_unit)}"><span class="code">${escapeHtml(c.enforcement_unit)}</span></span>`);
    add('督办级别', c.escalation ? `${c.escalation} 级` : null);
    add('关联案件', c.linked_to ? `并入 AJ${String(c.linked_to).padStart(8, '0')}` : c.linked_count ? `${c.linked_count} 件重复上报` : null);
    add('疑似重复', c.duplicates?.length ? c.duplicates.map((d) => escapeHtml(d.case_no ?? `AJ${String(d.id ?? d.case_id).padStart(8, '0')}`)).join('、') : null);
    add('返工次数', c.rework_count ? String(c.rework_count) : null);
    add('待审批申请', c.pending_request && `申请${escapeHtml(REQUEST_ZH[c.pending_request] ?? c.pending_request)}`, 'pending-request');
    add('回退次数', c.wrong_dispatches ? String(c.wrong_dispatches) : null, 'wrong-dispatches');

    const chain = this._chainHtml(c);
    const pics = photos.map((p) => `
      <a class="photo" href="${escapeHtml(p.url ?? `/photos/${p.sha256}`)}" target="_blank" rel="noopener" data-stage="${escapeHtml(p.stage)}">
        <img src="${escapeHtml(p.url ?? `/photos/${p.sha256}`)}" alt="${escapeHtml(STAGE_ZH[p.stage] ?? p.stage)}" loading="lazy">
        <span>${escapeHtml(STAGE_ZH[p.stage] ?? p.stage)}</span></a>`).join('');
    const steps = timeline.map((ev) => {
      const d = ev.detail ?? {};
      const from = d.from && (STATUS[d.from]?.[0] ?? d.from);
      const to = d.to && (STATUS[d.to]?.[0] ?? d.to);
      const unit = d.after?.unit_code && ['case.dispatch', 'case.auto_dispatch'].includes(ev.action) ? ` → <span class="unit" data-unit="${escapeHtml(d.after.unit_code)}"><span class="code">${escapeHtml(d.after.unit_code)}</span></span>` : '';
      return `<li data-action="${escapeHtml(ev.action)}"><time>${escapeHtml(fmtTime(ev.at))}</time>
        <strong>${escapeHtml(ACTION_ZH[ev.action] ?? ev.action)}${escapeHtml(requestZh(ev))}</strong>${unit}
        ${from && to && from !== to ? `<small>${escapeHtml(from)} → ${escapeHtml(to)}</small>` : ''}
        ${actorZh(ev) ? `<small class="muted" data-field="actor">${escapeHtml(actorZh(ev))}</small>` : ''}
        ${d.note ? `<div class="note" title="${escapeHtml(d.note)}">${escapeHtml(zhPart(d.note))}</div>` : ''}</li>`;
    }).join('');
    return `
      <table class="props case-props">${rows.join('')}</table>
      ${this._actionsHtml(c)}
      <h3>照片</h3>${pics ? `<div class="photos">${pics}</div>` : '<p class="muted small">暂无照片</p>'}
      <h3>归属链</h3>${chain}
      <h3>时间线</h3><ol class="timeline">${steps || '<li class="muted">暂无记录</li>'}</ol>`;
  }

  _chainHtml(c) {
    const oc = c.owner_chain;
    if (Array.isArray(oc) && oc.length) {
      // The chain recorded at intake (ChainLink: level, code, name, unit_code).
      return `<ol class="chain owner-chain">${oc.map((l) => `<li data-level="${escapeHtml(l.level)}">
        <span class="tag">${escapeHtml(LEVEL_ZH[l.level] ?? l.level)}</span> ${escapeHtml(l.name)} <span class="code">${escapeHtml(l.code)}</span>
        ${l.unit_code ? `<br><small>责任单位 <span class="unit" data-unit="${escapeHtml(l.unit_code)}"><span class="code">${escapeHtml(l.unit_code)}</span></span></small>` : ''}</li>`).join('')}</ol>`;
    }
    if (oc && typeof oc === 'object' && (oc.grid || oc.district || oc.reasons)) return ownerChainHtml(oc);
    // No chain recorded yet (it is recorded on 立案): ask the engine for the point (_fillChain).
    const why = ['verifying', 'collected'].includes(c.status) ? '尚未立案' : '案件未记录归属链';
    return `<div class="owner-box" data-lon="${c.lon}" data-lat="${c.lat}" data-why="${why}">${this._codesHtml(c)}</div>`;
  }

  /** The stored codes, named where the page knows the names. */
  _codesHtml(c) {
    const row = (label, code) => {
      if (!code) return '';
      const name = this.names.get(code)?.name;
      return `<li><span class="tag">${label}</span> ${escapeHtml(name ?? '')} <span class="code">${escapeHtml(code)}</span></li>`;
    };
    const rows = [row('单元网格', c.grid_code), row('社区/村', c.community_code), row('街道/镇', c.street_code),
      row('区', c.district_code), row('门前三包', c.frontage_code)].join('');
    return rows ? `<ol class="chain">${rows}</ol>` : '<p class="warn">上报位置不在任何单元网格内,无属地归属(由创文办研判)。</p>';
  }

  /** Replaces a placeholder chain by the engine's answer for the case's point, with reasons. */
  async _fillChain() {
    const box = this.info.el.querySelector('.owner-box[data-lon]');
    if (!box) return;
    const token = this.info._token;
    const a = await api.assign(Number(box.dataset.lon), Number(box.dataset.lat)).catch(() => null);
    if (!a || this.info._token !== token || !box.isConnected) return;
    box.innerHTML = `<p class="muted small">${escapeHtml(box.dataset.why)},按现行图层查询:</p>${ownerChainHtml(a)}`;
    this.info._resolveUnits();
  }

  _actionsHtml(c) {
    const user = this.session?.user;
    const acts = allowedActions(c);
    let extra = '';
    const pendingZh = c.pending_request && (REQUEST_ZH[c.pending_request] ?? c.pending_request);
    if (!acts.length) {
      if (!user) return '';
      return pendingZh
        ? `<p class="muted small" data-field="no-actions">案件有待审批的${escapeHtml(pendingZh)}申请,审批前不能办理。</p>`
        : '<p class="muted small" data-field="no-actions">当前状态下您的角色无可办理操作。</p>';
    }
    if (pendingZh) extra += `<p data-field="decide">待审批:<strong>申请${escapeHtml(pendingZh)}</strong>(见时间线中的申请说明)</p>`;
    if (acts.includes('dispatch')) {
      const suggested = this._suggestUnit(c);
      const option = (u) => `<option value="${escapeHtml(u.code)}"${u.code === suggested ? ' selected' : ''}>${escapeHtml(u.name)}</option>`;
      const group = (kind, label) => {
        const list = this.units.filter((u) => u.kind === kind);
        return list.length ? `<optgroup label="${label}">${list.map(option).join('')}</optgroup>` : '';
      };
      const opts = group('department', '职能部门') + group('street_office', '街道办事处');
      extra += `<label>派遣至 <select name="unit_code" required>${opts}</select></label>
        <p class="warn" data-field="outside-chain" role="alert" hidden></p>`;
    }
    if (acts.includes('feedback')) {
      extra += fileField({ name: 'after_photo', label: '处置后照片' });
    }
    const button = (a) => `<button type="button" class="${SECONDARY.has(a) ? '' : 'primary'}" data-act="${a}">${BUTTONS[a][0]}</button>`;
    const main = acts.filter((a) => !a.startsWith('request_')).map(button).join('');
    const side = acts.filter((a) => a.startsWith('request_')).map(button).join('');
    return `<h3>办理</h3><form class="case-form case-actions" data-id="${c.id}" data-version="${c.version ?? ''}">
      ${extra}<label>办理意见 / 申请理由(可选) <input name="note" maxlength="500"></label>
      ${main ? `<div class="buttons">${main}</div>` : ''}
      ${side ? `<div class="buttons requests" aria-label="申请">${side}</div>` : ''}<p class="error" role="alert"></p></form>`;
  }

  /**
   * Warns a dispatcher whose chosen unit does not answer for the case's place (the server's rule,
   * `unit_fits_place` in src/domain/dispatch.rs): the reason becomes required, and the server
   * refuses the dispatch without one (422 `reason_required`).
   */
  _checkDispatch() {
    const form = this.info.el.querySelector('.case-actions');
    const select = form?.querySelector('select[name=unit_code]');
    const warn = form?.querySelector('[data-field=outside-chain]');
    const c = this.shownCase;
    if (!select || !warn || !c) return;
    const unit = this.units.find((u) => u.code === select.value);
    const fits = unitFitsPlace(unit, c);
    const note = form.querySelector('input[name=note]');
    warn.hidden = fits;
    note.required = !fits;
    note.placeholder = fits ? '' : '跨辖区派遣理由(必填)';
    if (!fits) {
      const district = (c.owner_chain ?? []).find((l) => l.level === 'district')?.name ?? '案件所在区';
      warn.textContent = `“${unit?.name ?? select.value}”不在案件所在地(${district})的归属链上,一般不应由其处置。确需跨辖区派遣,请在“办理意见”中写明理由,理由记入案件时间线。`;
    }
  }

  /** The department unit to preselect: the owner chain's, else the category's in that district. */
  _suggestUnit(c) {
    const chain = Array.isArray(c.owner_chain) ? c.owner_chain : [];
    const fromChain = chain.find((l) => l.level === 'department')?.unit_code ?? c.triage_unit;
    if (fromChain) return fromChain;
    const dept = this.categories.find((x) => x.code === c.category)?.department;
    const district = c.district_code;
    if (dept && district) return `dept-${district}-${dept}`;
    return district ? `dept-${district}-cgzf` : this.units[0]?.code;
  }

  async _onPanelClick(e) {
    if (e.target.closest('[data-action=cancel-report]')) {
      this.info.hide();
      return;
    }
    const btn = e.target.closest('.case-actions [data-act]');
    if (!btn) return;
    const form = btn.closest('form');
    const id = Number(form.dataset.id);
    const key = btn.dataset.act;
    const [, action, body] = BUTTONS[key];
    const data = new FormData(form);
    const extra = { ...body };
    if (action === 'dispatch') extra.unit_code = String(data.get('unit_code') ?? '');
    const note = String(data.get('note') ?? '').trim() || undefined;
    if (action === 'dispatch' && !note && form.querySelector('input[name=note]')?.required) {
      form.querySelector('.error').textContent = '请在“办理意见”中写明跨辖区派遣的理由。';
      form.querySelector('input[name=note]').focus();
      return;
    }
    form.querySelectorAll('button').forEach((b) => { b.disabled = true; });
    form.querySelector('.error').textContent = '';
    this.busy = true;
    try {
      if (action === 'feedback') {
        const photo = data.get('after_photo');
        if (photo instanceof File && photo.size > 0) await this._upload(id, 'after', photo);
      }
      const view = await api.act(id, action, extra, note);
      this.feed.upsert(view);
      this.busy = false;
      await this.showCase(id);
    } catch (err) {
      this.busy = false;
      if (form.isConnected) {
        form.querySelector('.error').textContent = errorZh(err);
        form.querySelectorAll('button').forEach((b) => { b.disabled = false; });
      }
    }
  }

  _onSubmit(e) {
    const form = e.target.closest('#report-form');
    if (!form) return;
    e.preventDefault();
    this._submitReport(form);
  }
}
