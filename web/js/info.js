// The feature panel: what a click on the map selected, with its properties in Chinese.

import * as api from './api.js';
import { SHOP_TYPES, SITE_TYPES } from './style.js';

/** Source id → the layer's Chinese name, for the panel's title. */
const LAYER_ZH = {
  district: '区', street: '街道/镇', community: '社区/村', grid: '单元网格', frontage: '门前三包责任段',
  railway: '铁路',
};
const ZONE_ZH = {
  urban_village: '城中村', railway_land: '铁路沿线', back_alley: '背街小巷', inspection_site: '测评点位',
};
const COMMUNITY_KIND_ZH = { residents: '社区居委会', village: '村委会' };
// geodata/README.md: 1 = core, urban village, main road or railway; 2 = other built-up; 3 = fringe and rural.
const MANAGEMENT_LEVEL_ZH = { 1: '一级(重点区域)', 2: '二级(一般建成区)', 3: '三级(城乡结合部/农村)' };

export const escapeHtml = (s) => String(s ?? '').replace(/[&<>"']/g,
  (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/** An instant as a date in China Standard Time (UTC+8), the date the API's `at` means. */
export function dateZh(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(d);
}

export function layerTitle(source, props) {
  if (source === 'zone') return ZONE_ZH[props.kind] ?? '专题区域';
  if (source === 'railway') return props.kind === 'station' ? '火车站' : '铁路';
  return LAYER_ZH[source] ?? source;
}

function kindZh(source, p) {
  if (source === 'frontage') return SHOP_TYPES[p.kind]?.[0] ?? p.kind;
  if (source === 'community') return COMMUNITY_KIND_ZH[p.kind] ?? p.kind;
  if (source === 'zone') return ZONE_ZH[p.kind] ?? p.kind;
  return p.kind;
}

/**
 * Rows [label, html] for a feature's properties. `names` maps codes to {name} for parents.
 * Unknown extra properties are shown as they are, so new server fields are not hidden.
 */
export function propertyRows(source, p, names) {
  const rows = [];
  const add = (label, value, html = false) => {
    if (value === undefined || value === null || value === '') return;
    rows.push([label, html ? value : escapeHtml(value)]);
  };
  const named = (code) => {
    const n = names.get(code)?.name;
    return n ? `${escapeHtml(n)} <span class="code">${escapeHtml(code)}</span>` : `<span class="code">${escapeHtml(code)}</span>`;
  };
  add('名称', p.name);
  if (p.code) add('编码', `<span class="code" data-field="code">${escapeHtml(p.code)}</span>`, true);
  if (p.kind) add('类型', kindZh(source, p));
  if (p.site_type) add('点位类型', SITE_TYPES[p.site_type]?.[0] ?? p.site_type);
  if (p.urban_village !== undefined) add('城中村', p.urban_village ? '是' : '否');
  if (p.parent_code) add('上级', named(p.parent_code), true);
  if (p.road_name) add('所在道路', p.road_name);
  if (p.depth_m !== undefined) add('责任区进深', `${p.depth_m} 米`);
  if (p.area_m2 !== undefined) add('面积', `${Math.round(p.area_m2).toLocaleString('zh-CN')} 平方米`);
  if (p.management_level !== undefined) add('管理等级', MANAGEMENT_LEVEL_ZH[p.management_level] ?? p.management_level);
  if (p.unit_code) {
    add('责任单位', `<span class="unit" data-unit="${escapeHtml(p.unit_code)}"><span class="code">${escapeHtml(p.unit_code)}</span></span>`, true);
  }
  if (p.version !== undefined) add('版本', `第 ${p.version} 版`);
  if (p.valid_from) add('生效日期', dateZh(p.valid_from));
  if (p.valid_from) add('失效日期', p.valid_to ? dateZh(p.valid_to) : '现行有效');
  if (p.synthetic || p.illustrative) add('数据说明', '示意数据(演示城市生成,非真实边界)');
  const known = new Set(['name', 'code', 'kind', 'site_type', 'urban_village', 'parent_code', 'road_name', 'depth_m',
    'area_m2', 'management_level', 'unit_code', 'version', 'valid_from', 'valid_to', 'synthetic', 'illustrative', 'class']);
  for (const [k, v] of Object.entries(p)) {
    if (!known.has(k) && v !== null && typeof v !== 'object') add(k, v);
  }
  return rows;
}

/** The panel element and its show/hide logic. */
export class InfoPanel {
  constructor(el, names, { onClose = () => {} } = {}) {
    this.el = el;
    this.names = names;
    this.onClose = onClose;
    el.addEventListener('click', (e) => {
      if (e.target.closest('[data-action=close]')) this.hide();
      const expand = e.target.closest('[data-action=expand]');
      if (expand) {
        // Phone bottom sheet: a short "peek" by default, the whole list on demand.
        const open = el.classList.toggle('expanded');
        expand.setAttribute('aria-expanded', String(open));
        expand.textContent = open ? '收起' : '展开';
      }
    });
  }

  /**
   * Shows `feature` (a MapLibre feature, or null for an empty spot) and, below it, the owner chain
   * of the clicked point: `owner` is a promise of the GET /api/assign answer (owner.js).
   */
  show(feature, owner = null) {
    const source = feature?.source ?? 'place';
    const p = feature?.properties ?? {};
    const rows = feature ? propertyRows(source, p, this.names)
      .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${v}</td></tr>`).join('') : '';
    this.open({
      source,
      tag: feature ? layerTitle(source, p) : '位置',
      title: feature ? (p.name ?? p.code ?? '') : '地图上的点',
      body: `${rows ? `<table class="props">${rows}</table>` : ''}
        ${owner ? '<h3>所在位置 · 归属链</h3><div class="owner-box">正在查询归属…</div>' : ''}`,
    });
    if (owner) {
      const token = this._token;
      owner.then((html) => {
        const box = this.el.querySelector('.owner-box');
        if (box && token === this._token) {
          box.innerHTML = html;
          this._resolveUnits();
        }
      });
    }
  }

  /**
   * Opens the panel with any content: {source, tag, title, body (HTML)}. `half`: on a phone, a
   * scrolling sheet over the lower half (a form about a point on the map, which stays in sight
   * above it). `expanded`: on a phone,
   * open the bottom sheet fully (forms and case work need more than the peek).
   */
  open({ source, tag, title, body, head = '', expanded = false, half = false }) {
    this._token = (this._token ?? 0) + 1;
    this.el.innerHTML = `
      <header>
        <span class="tag">${escapeHtml(tag)}</span>
        <h2>${escapeHtml(title)}</h2>${head}
        <button type="button" class="expand" data-action="expand" aria-expanded="${expanded}">${expanded ? '收起' : '展开'}</button>
        <button type="button" class="icon" data-action="close" aria-label="关闭">×</button>
      </header>
      ${body}`;
    this.el.classList.toggle('expanded', expanded);
    this.el.classList.toggle('half', half);
    this.el.scrollTop = 0;
    this.el.hidden = false;
    this.el.dataset.source = source;
    // Keyboard and screen-reader users land on what just opened, not on <body>.
    const heading = this.el.querySelector('header h2');
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
    this._resolveUnits();
  }

  /** Replaces unit codes by names (GET /api/units/{code} is public: the name on the door). */
  async _resolveUnits() {
    for (const span of this.el.querySelectorAll('[data-unit]')) {
      const u = await api.unit(span.dataset.unit);
      if (u?.name && span.isConnected) {
        // The name is what people know; the code stays as the tooltip for the clerks.
        span.textContent = u.name;
        span.title = u.code;
      }
    }
  }

  hide() {
    this.el.hidden = true;
    this.el.innerHTML = '';
    this.onClose();
  }
}
