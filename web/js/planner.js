// Planner panel (热点分析): kernel density heatmap, Gi* hot spot grids, the hottest grids, the
// 卫生死角, the zone breakdown and the most-reported 门前三包 frontages, for a category and a time
// range. Self-contained: it adds its own card to the side panel, its own sources and layers and a
// legend overlay to the map; app.js creates it, passes the session and a way to show a place.
// Shown to planners, administrators and dispatchers (the roles that may read /api/hotspots).
//
// Written for a planner without statistics training: each method gets one plain-Chinese line
// with its parameters, the legends carry units, and the exact figures (bandwidth, z, FDR…) are
// kept in a 技术参数 <details> instead of in the running text (issue 15, point 3).

import { getSession, layer } from './api.js';
import { escapeHtml, dateZh } from './info.js';
import { GRID_MIN_ZOOM } from './style.js';
import { zhPart } from './owner.js';

const ROLES = new Set(['planner', 'admin', 'dispatcher']);
const PHONE = window.matchMedia('(max-width: 720px)');

/** A local calendar day as YYYY-MM-DD (the hot spot API reads days in China time). */
function day(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

// ArcGIS's Gi* bin colours: 99/95/90 % hot (reds), cold (blues). The legend reads the same table.
const BINS = [
  [3, '#b2182b', '热点 99 %'], [2, '#ef8a62', '热点 95 %'], [1, '#fddbc7', '热点 90 %'],
  [-1, '#d1e5f0', '冷点 90 %'], [-2, '#67a9cf', '冷点 95 %'], [-3, '#2166ac', '冷点 99 %'],
];
const BIN_COLOURS = ['match', ['get', 'bin_fdr'], ...BINS.flatMap(([b, c]) => [b, c]), 'rgba(0,0,0,0)'];
// The server's heat image ramp (src/hotspot/image.rs, heat_png): linear from 0 to the raster's
// maximum, these stops; below 0.1 % of the maximum it is transparent.
const KDE_RAMP = 'linear-gradient(90deg, rgb(255,255,178) 0%, rgb(254,178,76) 33%, rgb(240,59,32) 66%, rgb(128,0,38) 100%)';
// The zones that are lines on the ground (a 10 m buffer of an alley's centre line): their density
// per km of street says more than per km² of a thin strip.
const LINE_ZONES = new Set(['back_alley']);
// Zone rows ordered as a planner reads them; rows the server adds later go at the end.
const ZONE_ORDER = ['urban_village', 'railway_50m', 'railway_100m', 'railway_200m', 'back_alley', 'inspection_site', 'rest'];

const num = (v, digits = 0) => Number(v ?? 0).toLocaleString('zh-CN', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const pct = (v) => `${num((v ?? 0) * 100, 1)} %`;

/** A failed analysis in words a planner can act on (some hot spot messages are English only). */
function errorZh(status, body) {
  if (body?.code === 'no_points') return '所选类别和时段内没有报告,请换一个类别或放宽时段。';
  // wangge's messages are "中文。English": the Chinese part is for the page.
  const zh = body?.message ? zhPart(body.message) : '';
  if (/[\u4e00-\u9fff]/.test(zh)) return zh;
  if (status === 400) return '分析条件有误,请检查类别和起止日期。';
  if (status === 401 || status === 403) return '登录已失效或无权查看热点分析,请重新登录。';
  return `服务器暂时无法完成分析(${status}),请稍后重试。`;
}

async function get(path) {
  const s = getSession();
  let res;
  try {
    res = await fetch(path, { headers: s ? { authorization: `Bearer ${s.token}` } : {} });
  } catch {
    throw new Error('无法连接服务器,请检查网络后重试');
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(errorZh(res.status, body));
  return body;
}

/** [west, south, east, north] of a GeoJSON geometry. */
function bboxOf(geometry) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]);
      b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]);
    } else c.forEach(walk);
  };
  walk(geometry.coordinates);
  return b;
}

/** A circle of `r` metres around a WGS84 point as a polygon (the outline of a blind spot). */
function circle(lon, lat, r) {
  const ring = [];
  const dLat = r / 111_320;
  const dLon = dLat / Math.cos((lat * Math.PI) / 180);
  for (let i = 0; i <= 32; i++) {
    const a = (i / 32) * 2 * Math.PI;
    ring.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)]);
  }
  return { type: 'Polygon', coordinates: [ring] };
}

/** The KDE scale's tick values: the ramp's stops in cases per km², rounded for reading. */
export function kdeTicks(max) {
  const round = (v) => (v >= 100 ? Math.round(v / 10) * 10 : v >= 10 ? Math.round(v) : Math.round(v * 10) / 10);
  return [0, max / 3, (2 * max) / 3, max].map(round);
}

/** The hot spot rule of the zone breakdown (meta.hotspot_rule) in plain Chinese. */
export function hotspotRuleZh(rule) {
  const r = String(rule ?? '');
  const level = r.includes('90') && !r.includes('99') ? '90 %' : '99 %';
  if (!/by report/i.test(r) && /centre|center/i.test(r)) {
    return `“热点占比”:中心落在该区域内的热点网格(可信度 ${level},已校正多重比较)占全部这类网格的比例。`;
  }
  return `“热点占比”:落在热点网格(可信度 ${level},已校正多重比较)里的报告中,位于该区域的占多少。`
    + '按报告计而不是按网格中心计,细长的背街小巷也能如实计入。';
}

/** The legend overlay on the map (a MapLibre control, bottom-left above the scale). */
class Legend {
  constructor() {
    this.el = document.createElement('div');
    this.el.className = 'maplibregl-ctrl pl-legend';
    this.el.id = 'planner-legend';
    this.el.setAttribute('role', 'region');
    this.el.setAttribute('aria-label', '热点分析图例');
    this.el.hidden = true;
    this.el.innerHTML = `
      <div data-legend="kde" hidden>
        <strong>报告密度 <span class="unit">件/平方公里</span></strong>
        <div class="pl-ramp" style="background:${KDE_RAMP}"></div>
        <div class="pl-ticks" data-out="ticks"></div>
        <p>无色 = 附近几乎没有报告</p>
      </div>
      <div data-legend="gi" hidden>
        <strong>热点网格 <span class="unit">可信度</span></strong>
        <ul class="pl-bins">${[0, 3, 1, 4, 2, 5].map((i) => {
          const [bin, colour, label] = BINS[i];
          return `<li data-bin="${bin}"><i style="background:${colour}"></i>${label}</li>`;
        }).join('')}<li class="wide" data-bin="0"><i class="none"></i>不显著(无色)</li></ul>
      </div>`;
  }

  onAdd() { return this.el; }

  onRemove() { this.el.remove(); }

  /** Labels the density ramp with the current image's scale (its maximum, cases per km²). */
  setMax(max) {
    this.el.querySelector('[data-out=ticks]').innerHTML = kdeTicks(max).map((t) => `<span>${num(t, 1)}</span>`).join('');
  }

  /** Shows the parts whose layers are on and drawn; hides the overlay when none is. */
  update({ kde, gi }) {
    this.el.querySelector('[data-legend=kde]').hidden = !kde;
    this.el.querySelector('[data-legend=gi]').hidden = !gi;
    this.el.hidden = !kde && !gi;
  }
}

export class PlannerPanel {
  /**
   * @param map the MapLibre map
   * @param container the side panel
   * @param options `showPlace(feature, lngLat)` shows a grid or frontage as a map click would;
   *   `info` the feature panel (for a blind spot's evidence); `names` code → {name} of the areas;
   *   `onPick()` after a list item moved the map (on a phone the side panel then gives way)
   */
  constructor(map, container, { showPlace = () => {}, info = null, names = new Map(), onPick = () => {} } = {}) {
    this.map = map;
    this.showPlace = showPlace;
    this.info = info;
    this.names = names;
    this.onPick = onPick;
    this.allowed = false;
    this.drawn = { kde: false, gi: false };
    this.items = { grid: [], frontage: [], blind: [] };
    this.el = document.createElement('section');
    this.el.className = 'card planner';
    this.el.id = 'planner';
    this.el.hidden = true;
    this.el.innerHTML = `
      <h2>热点分析 <small class="muted">规划</small></h2>
      <div class="pl-form">
        <label class="pl-field"><span>类别</span><select name="category"><option value="">全部类别</option></select></label>
        <label class="pl-field"><span>起</span><input type="date" name="from"></label>
        <label class="pl-field"><span>止</span><input type="date" name="to"></label>
        <label class="pl-check"><input type="checkbox" name="kde" checked> 报告密度热力图</label>
        <label class="pl-check"><input type="checkbox" name="gi" checked> 热点网格(Gi*)</label>
        <button type="button" class="primary" data-action="run">分析</button>
      </div>
      <p class="muted small" data-out="status" aria-live="polite"></p>
      <div data-out="results" hidden>
        <p class="pl-explain" data-explain="kde"></p>
        <h3>热点网格 <small class="muted">报告最多的 10 个</small></h3>
        <p class="pl-explain" data-explain="gi"></p>
        <ol class="pl-list" data-out="top"></ol>
        <h3>卫生死角</h3>
        <p class="pl-explain" data-explain="blind"></p>
        <ol class="pl-list" data-out="blind"></ol>
        <h3>区域对比</h3>
        <p class="pl-explain" data-explain="zones"></p>
        <div class="pl-table-wrap"><table class="pl-zones" data-out="zones"></table></div>
        <p class="pl-explain" data-out="rule"></p>
        <p class="small" data-out="sentence"></p>
        <h3>门前三包责任段 <small class="muted">报告最多的 10 段</small></h3>
        <p class="pl-explain">按责任段门前的报告数排序;“每百米”把报告数除以门面长度,长门面不会只因长而靠前。</p>
        <ol class="pl-list" data-out="frontages"></ol>
        <details class="pl-tech"><summary>技术参数</summary><dl data-out="tech"></dl></details>
      </div>`;
    // The last twelve months by default.
    const now = new Date();
    const yearAgo = new Date(now);
    yearAgo.setFullYear(now.getFullYear() - 1);
    this.el.querySelector('[name=from]').value = day(yearAgo);
    this.el.querySelector('[name=to]').value = day(now);
    // The catalogue is the city's (admins edit it): list what the server has.
    fetch('/api/categories').then((r) => (r.ok ? r.json() : [])).then((cats) => {
      const select = this.el.querySelector('[name=category]');
      for (const c of cats) {
        const o = document.createElement('option');
        o.value = c.code;
        o.textContent = `${c.code} ${c.name}`;
        select.append(o);
      }
    }).catch(() => {});
    container.insertBefore(this.el, container.querySelector('#login-box')?.nextSibling ?? null);
    this.el.querySelector('[data-action=run]').addEventListener('click', () => this.run());
    for (const name of ['kde', 'gi']) {
      this.el.querySelector(`[name=${name}]`).addEventListener('change', (e) => this.show(name, e.target.checked));
    }
    this.el.addEventListener('click', (e) => {
      const go = e.target.closest('[data-go]');
      if (go) this.go(go.dataset.go, Number(go.dataset.i));
    });
    this.legend = new Legend();
    map.addControl(this.legend, 'bottom-left');
  }

  /** Shows the panel for roles that may read hot spots; hides it and its layers otherwise. */
  setSession(session) {
    const ok = ROLES.has(session?.user?.role);
    this.allowed = ok;
    this.el.hidden = !ok;
    for (const name of ['kde', 'gi']) this.show(name, ok && this.checked(name));
  }

  checked(name) {
    return this.el.querySelector(`[name=${name}]`).checked;
  }

  query() {
    const q = new URLSearchParams();
    for (const name of ['category', 'from', 'to']) {
      const v = this.el.querySelector(`[name=${name}]`).value;
      if (v) q.set(name, v);
    }
    return q;
  }

  show(name, visible) {
    const id = name === 'kde' ? 'hotspot-kde' : 'hotspot-gi';
    if (this.map.getLayer(id)) this.map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
    const on = (n) => this.allowed && this.drawn[n] && (n === name ? visible : this.checked(n));
    this.legend.update({ kde: on('kde'), gi: on('gi') });
  }

  async run() {
    const out = (k) => this.el.querySelector(`[data-out=${k}]`);
    out('status').textContent = '正在计算…';
    const button = this.el.querySelector('[data-action=run]');
    button.disabled = true;
    const q = this.query();
    try {
      const [kde, gi, zones, frontages, blind] = await Promise.all([
        get(`/api/hotspots/kde?${q}&cell_m=50`),
        get(`/api/hotspots/gistar?${q}&format=geojson&limit=3000`),
        get(`/api/hotspots/zones?${q}`),
        get(`/api/hotspots/frontages?${q}&limit=10`),
        // A failed blind spot search must not hide the rest.
        get(`/api/hotspots/blindspots?${q}&limit=10`).catch((e) => ({ error: e })),
      ]);
      this.drawKde(kde);
      this.drawGi(gi);
      // The 99 % hot grids with the most reports (a small grid inside a hot area can score high
      // with few reports of its own).
      const hot = gi.features.filter((f) => f.properties.bin_fdr === 3)
        .sort((a, b) => b.properties.count - a.properties.count).slice(0, 10);
      this.items = { grid: hot, frontage: frontages, blind: blind.rows ?? [] };
      this.blindMeta = blind.meta;
      const bw = Math.round(kde.bandwidth_m);
      out('status').textContent = `共 ${num(gi.meta.points)} 件报告 · 可信度 99 % 的热点网格 ${num(gi.meta.hot_99_fdr)} 个`;
      this.explain('kde', `核密度:把每件报告平摊到周围约 ${num(bw)} 米内,颜色越深,单位面积报告越多(件/平方公里);最密处约 ${num(kde.max)} 件/平方公里。`);
      this.explain('gi', '热点网格:某网格及其邻近网格的报告数显著高于全市平均;已校正多重比较(FDR,避免网格多了偶然冒出假热点),红色越深越可信:“热点 99 %”几乎可以肯定不是偶然。');
      out('top').innerHTML = hot.map((f, i) => {
        const p = f.properties;
        return this.item('grid', i, p.name || p.code, `${num(p.count)} 件报告`);
      }).join('') || '<li class="muted small">没有可信度 99 % 的热点网格。</li>';
      this.renderBlind(blind);
      this.renderZones(zones);
      out('frontages').innerHTML = frontages.map((f, i) => this.item('frontage', i, f.name,
        `${num(f.count)} 件报告 · 每百米 ${num(f.per_100m, 1)} 件`)).join('')
        || '<li class="muted small">没有门前三包责任段内的报告。</li>';
      this.renderTech(kde, gi, zones, blind);
      out('results').hidden = false;
    } catch (e) {
      out('status').textContent = `分析失败:${e.message}`;
    } finally {
      button.disabled = false;
    }
  }

  explain(name, text) {
    this.el.querySelector(`[data-explain=${name}]`).textContent = text;
  }

  /** A list item: a button that flies to the place and opens it. */
  item(kind, i, title, evidence) {
    return `<li><button type="button" class="pl-go" data-go="${kind}" data-i="${i}">
      <span class="pl-name">${escapeHtml(title)}</span><span class="pl-ev">${evidence}</span></button></li>`;
  }

  renderBlind(blind) {
    const out = this.el.querySelector('[data-out=blind]');
    const m = blind.meta;
    this.explain('blind', m
      ? `卫生死角:同一处(约 ${num(m.eps_m)} 米内)${num(m.window_weeks)} 周内被报告至少 ${num(m.min_reports)} 次,`
        + `且至少 ${num(m.min_after_close)} 次是在上次处理结案后又被报告,明显比周边 ${num(m.ring_m)} 米更集中;按严重程度排序。`
      : '卫生死角:处理结案后又反复出现问题的地方。');
    if (blind.error) {
      out.innerHTML = `<li class="small error">卫生死角未能计算:${escapeHtml(blind.error.message)}</li>`;
      return;
    }
    out.innerHTML = this.items.blind.map((r, i) => {
      const last = r.evidence?.length ? r.evidence[r.evidence.length - 1].reported_at : null;
      const where = this.placeName(r.owners) || `第 ${r.rank} 处`;
      return this.item('blind', i, where,
        `${num(r.reports)} 件报告 · 结案后又报 ${num(r.after_close)} 次${last ? ` · 最近 ${dateZh(last)}` : ''}`);
    }).join('') || '<li class="muted small">所选类别和时段内没有卫生死角。</li>';
  }

  /** The community (or grid, street) name of an owner chain [grid, community, street, district]. */
  placeName(owners = []) {
    const [grid, community, street] = owners;
    const n = (c) => (c ? this.names.get(c)?.name : null);
    const parts = [n(street), n(community)].filter(Boolean);
    if (parts.length) return parts.join(' ');
    return n(grid) || grid || '';
  }

  renderZones(zones) {
    const rows = [...(zones.rows ?? [])].sort((a, b) => {
      const ia = ZONE_ORDER.indexOf(a.zone);
      const ib = ZONE_ORDER.indexOf(b.zone);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    });
    this.explain('zones', '区域对比:各类区域承担了多少报告、单位面积(背街小巷按每公里街道)有多少报告、在热点里占多少。'
      + '区域会重叠(城中村里也有背街小巷),占比相加不一定是 100 %。');
    this.el.querySelector('[data-out=zones]').innerHTML = `
      <thead><tr><th>区域</th><th class="num">报告(件)</th><th class="num">密度</th><th class="num">占全部报告</th><th class="num">热点占比</th></tr></thead>
      <tbody>${rows.map((r) => {
        const density = LINE_ZONES.has(r.zone)
          ? `${num(r.per_street_km)} 件/公里街道`
          : `${num(r.per_km2)} 件/km²`;
        return `<tr data-zone="${escapeHtml(r.zone)}"><th scope="row">${escapeHtml(r.name)}</th><td class="num">${num(r.reports)}</td>`
          + `<td class="num">${density}</td><td class="num">${pct(r.load_share)}</td><td class="num">${pct(r.hotspot99_share)}</td></tr>`;
      }).join('')}</tbody>`;
    this.el.querySelector('[data-out=rule]').textContent = hotspotRuleZh(zones.meta?.hotspot_rule);
    // The server's quotable sentence, in the panel's words ("99%置信度热点单元" is the jargon the
    // legend already explains as 热点 99 %).
    this.el.querySelector('[data-out=sentence]').textContent = (zones.sentences_zh?.[0] ?? '')
      .replace(/(\d+)\s*%\s*置信度热点单元/g, '可信度 $1 % 的热点网格');
  }

  /**
   * The exact parameters, for whoever wants to check or reproduce the analysis. In Chinese too:
   * the server's English names are mapped, an unknown one is shown as it is.
   */
  renderTech(kde, gi, zones, blind) {
    const row = (k, v) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`;
    const top = this.items.grid[0]?.properties;
    const m = blind.meta;
    const method = { exact: '逐点精确计算', binned: '分箱近似' }[kde.method] ?? kde.method;
    const weights = String(gi.meta.weights ?? '')
      .replace(/Contiguity\(Queen\)/, '共点邻接(Queen:有公共顶点即为邻居)')
      .replace(/Contiguity\(Rook\)/, '共边邻接(Rook:有公共边才为邻居)');
    const transform = { binary: '二值权重(ArcGIS 做法)', row: '行标准化权重' }[gi.meta.transform] ?? gi.meta.transform;
    const rule = /by report/i.test(zones.meta?.hotspot_rule ?? '')
      ? '热点:已校正多重比较后可信度 99 % 的网格;区域占比按落在这些网格且位于区域内的报告计'
      : zones.meta?.hotspot_rule ?? '';
    this.el.querySelector('[data-out=tech]').innerHTML = [
      row('核密度 带宽(搜索半径)', `${num(kde.bandwidth_m, 1)} 米(${kde.bandwidth_rule === 'silverman_spatial' ? '按报告分布自动选取:空间 Silverman 规则' : '指定值'})`),
      row('核函数 / 像元', `${kde.kernel === 'quartic' ? '四次核函数' : kde.kernel} · 像元 ${num(kde.cell_m, 1)} 米 · ${kde.width}×${kde.height} 格 · ${method}`),
      row('密度最大值', `${num(kde.max, 1)} 件/平方公里`),
      row('Gi* 统计量', 'Getis-Ord Gi*(与 PySAL esda 一致的解析 z 值);p 值为双侧正态检验'),
      row('分析单元 / 邻接', `${gi.meta.unit === 'grid' ? '单元网格' : gi.meta.unit} ${num(gi.meta.units)} 个 · ${weights} · ${transform} · 平均 ${num(gi.meta.mean_neighbours, 1)} 个邻居 · 孤立单元 ${num(gi.meta.islands)} 个`),
      row('多重比较校正', 'FDR(Benjamini–Hochberg 错误发现率):按 q 值而不是 p 值分级'),
      row('z 值(偏离全市平均的标准差倍数)', top ? `最热网格 ${top.name || top.code}:z = ${num(top.z, 2)},q = ${Number(top.q).toExponential(2)}` : '—'),
      row('置信度分级', '99 %:q < 0.01;95 %:q < 0.05;90 %:q < 0.1'),
      row('区域热点规则', rule),
      row('卫生死角参数', m ? `聚类半径(DBSCAN)${num(m.eps_m)} 米 · ${num(m.window_weeks)} 周内 ≥ ${num(m.min_reports)} 件 · 结案后 ≥ ${num(m.min_after_close)} 件 · 比周边 ${num(m.ring_m)} 米密 ≥ ${num(m.min_contrast)} 倍` : '—'),
      row('坐标与数据版本', `WGS84 经纬度;距离按米计算 · 数据版本 ${gi.meta.data_version ?? ''}`),
    ].join('');
  }

  /** Flies to a listed place and opens it in the feature panel. */
  async go(kind, i) {
    const item = this.items[kind]?.[i];
    if (!item) return;
    this.onPick();
    // Keep the place clear of the feature panel: right of it on a desktop, above the sheet on a phone.
    const offset = PHONE.matches ? [0, -Math.round(this.map.getCanvas().clientHeight * 0.2)] : [-170, 0];
    let center;
    let zoom;
    if (kind === 'grid') {
      const b = bboxOf(item.geometry);
      const cam = this.map.cameraForBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 40, maxZoom: 16.5 });
      center = [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
      zoom = Math.max(cam?.zoom ?? 16, GRID_MIN_ZOOM + 2);
    } else if (kind === 'frontage') {
      // The frontage ranking names no place; the shop's public page has its strip.
      const shop = await get(`/api/public/shops/${encodeURIComponent(item.code)}`).catch(() => null);
      const line = shop?.strip?.line;
      if (!line?.length) return;
      const [a, b] = [line[Math.floor((line.length - 1) / 2)], line[Math.ceil((line.length - 1) / 2)]];
      center = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
      zoom = 17.5;
    } else {
      center = [item.lon, item.lat];
      zoom = 17.5;
    }
    this.map.flyTo({ center, zoom, offset, duration: 1200, essential: true });
    const lngLat = { lng: center[0], lat: center[1] };
    if (kind === 'blind') {
      this.openBlind(item);
      return;
    }
    const source = kind;
    const code = kind === 'grid' ? item.properties.code : item.code;
    // The full feature (all its properties, uncut geometry) from the layer export around the place.
    const d = kind === 'grid' ? 0.003 : 0.0005;
    const fc = await layer(source, { bbox: [center[0] - d, center[1] - d, center[0] + d, center[1] + d] }).catch(() => null);
    const found = fc?.features.find((f) => f.properties.code === code);
    const feature = found ?? (kind === 'grid'
      ? { type: 'Feature', geometry: item.geometry, properties: { code, name: item.properties.name } }
      : { type: 'Feature', geometry: { type: 'Point', coordinates: center }, properties: { code, name: item.name } });
    this.showPlace({ ...feature, source }, lngLat);
  }

  /** A blind spot's evidence in the feature panel, its extent outlined on the map. */
  openBlind(r) {
    const selected = this.map.getSource('selected');
    selected?.setData({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: circle(r.lon, r.lat, Math.max(r.radius_m, 15)) }] });
    if (!this.info) return;
    const name = (c) => (c ? `${escapeHtml(this.names.get(c)?.name ?? '')} <span class="code">${escapeHtml(c)}</span>` : '—');
    const reports = (r.evidence ?? []).slice(-8).reverse().map((e) => `<li><time>${dateZh(e.reported_at)}</time>`
      + `${e.closed_at ? ` 报告,${dateZh(e.closed_at)} 结案` : ' 报告,未结案'}</li>`).join('');
    const shops = (r.shops ?? []).map((s) => `<li>${escapeHtml(s.shop)} · ${num(s.reports)} 件</li>`).join('');
    this.info.open({
      source: 'blindspot',
      tag: '卫生死角',
      title: `第 ${r.rank} 处 · ${this.placeName(r.owners) || '未知位置'}`,
      body: `<table class="props">
          <tr><th>报告</th><td>共 ${num(r.reports)} 件;${dateZh(r.window_start)} 起 ${num(this.blindMeta?.window_weeks ?? 12)} 周内 ${num(r.window_reports)} 件</td></tr>
          <tr><th>结案后又报</th><td>${num(r.after_close)} 次</td></tr>
          <tr><th>范围</th><td>半径约 ${num(r.radius_m)} 米</td></tr>
          <tr><th>所在网格</th><td>${name(r.owners?.[0])}</td></tr>
          <tr><th>社区</th><td>${name(r.owners?.[1])}</td></tr>
          <tr><th>街道</th><td>${name(r.owners?.[2])}</td></tr>
        </table>
        ${shops ? `<h3>门前三包商户</h3><ul class="chain">${shops}</ul>` : ''}
        <h3>最近的报告</h3><ul class="timeline">${reports}</ul>`,
    });
  }

  drawKde(kde) {
    const url = `data:image/png;base64,${kde.png_base64}`;
    const src = this.map.getSource('hotspot-kde');
    if (src) {
      src.updateImage({ url, coordinates: kde.corners });
    } else {
      this.map.addSource('hotspot-kde', { type: 'image', url, coordinates: kde.corners });
      this.map.addLayer({ id: 'hotspot-kde', type: 'raster', source: 'hotspot-kde', paint: { 'raster-opacity': 0.75, 'raster-resampling': 'linear' } });
    }
    this.drawn.kde = true;
    this.legend.setMax(kde.max);
    this.show('kde', this.checked('kde'));
  }

  drawGi(fc) {
    const src = this.map.getSource('hotspot-gi');
    if (src) {
      src.setData(fc);
    } else {
      this.map.addSource('hotspot-gi', { type: 'geojson', data: fc });
      this.map.addLayer({ id: 'hotspot-gi', type: 'fill', source: 'hotspot-gi', filter: ['!=', ['get', 'bin_fdr'], 0], paint: { 'fill-color': BIN_COLOURS, 'fill-opacity': 0.55 } });
    }
    this.drawn.gi = true;
    this.show('gi', this.checked('gi'));
  }
}
