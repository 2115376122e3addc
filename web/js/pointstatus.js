// 测评点位 by readiness status: the points of GET /api/inspections/points coloured 达标 / 整改中 /
// 未达标 / 未检查, shared by the map page's layer (PointStatusLayer) and the readiness page. The API
// needs a login, so the map page's layer combines its switch with the session, as the case pins
// do (cases.js setPinsWanted): the points are read only when both are on, and dropped on logout.

import * as api from './api.js';
import { escapeHtml } from './info.js';

/** Status → [Chinese label, colour], in the order the legends list them. */
export const POINT_STATUS = {
  passed: ['达标', '#2e9d4f'],
  rectifying: ['整改中', '#f0a020'],
  failing: ['未达标', '#d7301f'],
  not_inspected: ['未检查', '#9aa3ab'],
};

/** A MapLibre colour expression over the `status` property. */
export const STATUS_COLOUR = ['match', ['get', 'status'],
  ...Object.entries(POINT_STATUS).flatMap(([k, [, c]]) => [k, c]), '#9aa3ab'];

/** The points as GeoJSON (WGS84 lon, lat): one Point per point at its place, with its numbers. */
export function pointsGeoJson(points) {
  return {
    type: 'FeatureCollection',
    features: points.map((p) => ({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: p.place },
      properties: {
        code: p.code, name: p.name, point_type_name: p.point_type_name, status: p.readiness.status,
        status_zh: p.status_zh, street_name: p.street_name ?? '', open: p.readiness.open,
        overdue: p.readiness.overdue, found: p.readiness.found,
      },
    })),
  };
}

/** The layer group in the map page's layer list. */
export const POINT_STATUS_GROUP = {
  id: 'point_status', title: '测评点位(达标状态,登录后)', off: true,
  layers: ['point-status'],
  legend: Object.values(POINT_STATUS).map(([label, color]) => ({ label, kind: 'circle', color })),
};

const EMPTY = { type: 'FeatureCollection', features: [] };
const pct = (r) => (r == null ? '—' : `${(r * 100).toFixed(0)}%`);
const beijing = (iso) => new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false }).replace(/:\d\d$/, '');

/** The map page's 测评点位 status layer. */
export class PointStatusLayer {
  constructor(map, info) {
    this.map = map;
    this.info = info;
    this.wanted = false;
    this.session = null;
    this.points = new Map();
    this.pending = 0;
    // /#point=CODE (the readiness page's links): switch the layer on and show that point once the
    // session and the points are there.
    const m = location.hash.match(/^#point=(.+)$/);
    this.focusCode = m ? decodeURIComponent(m[1]) : null;
    if (this.focusCode) {
      this.wanted = true;
      const input = document.querySelector(`input[data-group="${POINT_STATUS_GROUP.id}"]`);
      if (input) {
        input.checked = true;
        input.closest('li')?.classList.remove('off');
      }
    }
  }

  get shown() {
    return this.wanted && !!this.session;
  }

  /** Adds the source and layer (after the style loaded), above the zone layers. */
  addLayers() {
    if (this.map.getSource('point-status')) return;
    this.map.addSource('point-status', { type: 'geojson', data: EMPTY, promoteId: 'code' });
    this.map.addLayer({
      id: 'point-status', type: 'circle', source: 'point-status',
      layout: { visibility: 'none' },
      paint: {
        'circle-color': STATUS_COLOUR,
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 4, 15, 8],
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': 1.5,
      },
    });
    this._apply();
  }

  /** The layer switch. */
  setWanted(on) {
    this.wanted = !!on;
    this._apply();
  }

  /** After login or logout. */
  setSession(session) {
    // The points' status is the city's internal follow-up: staff only (a volunteer gets 403).
    this.session = session?.user?.role === 'volunteer' ? null : session;
    this._apply();
  }

  async _apply() {
    if (!this.map.getLayer('point-status')) return;
    this.map.setLayoutProperty('point-status', 'visibility', this.shown ? 'visible' : 'none');
    if (!this.shown) {
      if (!this.session) {
        this.points.clear();
        this.map.getSource('point-status').setData(EMPTY);
      }
      return;
    }
    await this.reload();
  }

  /** Reads the points' status afresh. */
  async reload() {
    this.pending++;
    try {
      const points = await api.request('/api/inspections/points');
      if (!this.session) return;
      this.points = new Map(points.map((p) => [p.code, p]));
      this.map.getSource('point-status')?.setData(pointsGeoJson(points));
      const focus = this.points.get(this.focusCode);
      if (focus) {
        this.focusCode = null;
        this.map.jumpTo({ center: focus.place, zoom: Math.max(this.map.getZoom(), 15) });
        this.showPoint(focus.code);
      }
    } catch (e) {
      if (e.status !== 401) console.warn('测评点位状态读取失败', e);
    } finally {
      this.pending--;
    }
  }

  /** A click on a point: its status, numbers and open findings in the info panel. */
  handleClick(e) {
    if (!this.shown) return false;
    const r = 8;
    const hit = this.map.queryRenderedFeatures([[e.point.x - r, e.point.y - r], [e.point.x + r, e.point.y + r]], { layers: ['point-status'] })[0];
    if (!hit) return false;
    this.showPoint(hit.properties.code);
    return true;
  }

  async showPoint(code) {
    const p = this.points.get(code);
    if (!p) return;
    const rd = p.readiness;
    const [label, colour] = POINT_STATUS[rd.status] ?? [p.status_zh, '#9aa3ab'];
    const rows = [
      ['状态', `<span class="status-dot" style="display:inline-block;width:10px;height:10px;border-radius:50%;background:${colour}"></span> <strong data-field="status">${escapeHtml(label)}</strong>`],
      ['点位类型', escapeHtml(p.point_type_name)],
      ['街道 · 社区', escapeHtml([p.street_name, p.community_name].filter(Boolean).join(' · '))],
      ['主责单位', p.lead_unit ? `<span data-unit="${escapeHtml(p.lead_unit)}"><span class="code">${escapeHtml(p.lead_unit)}</span></span>` : '—'],
      ['检查次数', String(p.visits)],
      ['问题', `发现 ${rd.found} · 整改中 ${rd.open} · 已整改 ${rd.rectified} · 已销号 ${rd.passed} · 超期 ${rd.overdue}`],
      ['整改率', pct(rd.found ? rd.rectification_rate : null)],
    ].map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('');
    this.info.open({
      source: 'point-status', tag: '测评点位', title: p.name,
      body: `<table class="props" data-point="${escapeHtml(code)}">${rows}</table>
        <h3>未销号问题</h3><div class="point-findings"><p class="muted small">正在读取…</p></div>
        <p class="small"><a href="/readiness.html">测评准备情况总览 →</a></p>`,
    });
    const box = this.info.el.querySelector('.point-findings');
    try {
      const findings = await this.openFindings(code);
      if (!box.isConnected) return;
      box.innerHTML = findings.length ? `<ul class="findings">${findings.map((f) => `<li data-finding="${f.id}">
        <strong>${escapeHtml(f.criterion_text || f.criterion)}</strong> · ${escapeHtml(f.status_zh)}${f.overdue ? ' <span class="overdue">超期</span>' : ''}<br>
        <small>${escapeHtml(f.note)} · 时限 ${escapeHtml(beijing(f.deadline))} · 案卷 ${f.case_id}</small></li>`).join('')}</ul>`
        : '<p class="muted small">无未销号问题。</p>';
    } catch {
      if (box.isConnected) box.innerHTML = '<p class="muted small">无法读取问题清单。</p>';
    }
  }

  /** The point's findings not yet 销号, from the follow-up of the rounds that visited it. */
  async openFindings(code) {
    if (!this.points.get(code)?.readiness.found) return [];
    const rounds = await api.request('/api/inspections/rounds');
    const mine = rounds.filter((r) => r.points.includes(code));
    const reports = await Promise.all(mine.map((r) => api.request(`/api/inspections/rounds/${r.id}`)));
    return reports.flatMap((rep) => rep.points.filter((p) => p.code === code).flatMap((p) => p.findings))
      .filter((f) => f.status !== 'passed');
  }
}
