// Planner panel (规划分析): kernel density heatmap, Gi* hot spot grids, the hottest grids and the
// zone sentence, for a category and a time range. Self-contained: it adds its own card to the side
// panel and its own sources and layers to the map; app.js only creates it and passes the session.
// Shown to planners, administrators and dispatchers (the roles that may read /api/hotspots).

import { getSession } from './api.js';
import { escapeHtml } from './info.js';

const ROLES = new Set(['planner', 'admin', 'dispatcher']);

/** A local calendar day as YYYY-MM-DD (the hot spot API reads days in China time). */
function day(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
// ArcGIS's Gi* bin colours: 99/95/90 % hot (reds), cold (blues).
const BIN_COLOURS = ['match', ['get', 'bin_fdr'], 3, '#b2182b', 2, '#ef8a62', 1, '#fddbc7', -1, '#d1e5f0', -2, '#67a9cf', -3, '#2166ac', 'rgba(0,0,0,0)'];

async function get(path) {
  const s = getSession();
  const res = await fetch(path, { headers: s ? { authorization: `Bearer ${s.token}` } : {} });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body?.message || `HTTP ${res.status}`);
  return body;
}

export class PlannerPanel {
  constructor(map, container) {
    this.map = map;
    this.el = document.createElement('section');
    this.el.className = 'card planner';
    this.el.id = 'planner';
    this.el.hidden = true;
    this.el.innerHTML = `
      <h2>热点分析 <small class="muted">规划</small></h2>
      <label>类别 <select name="category"><option value="">全部类别</option></select></label>
      <label>起 <input type="date" name="from"></label>
      <label>止 <input type="date" name="to"></label>
      <label><input type="checkbox" name="kde" checked> 核密度热力图(件/km²)</label>
      <label><input type="checkbox" name="gi" checked> Gi* 热点网格(FDR 校正)</label>
      <button type="button" data-action="run">分析</button>
      <p class="muted small" data-out="status"></p>
      <p data-out="sentence"></p>
      <h3 class="small">报告最多的 99% 热点网格</h3>
      <ol class="small" data-out="top"></ol>
      <h3 class="small">报告最多的门前三包责任段</h3>
      <ol class="small" data-out="frontages"></ol>`;
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
  }

  /** Shows the panel for roles that may read hot spots; hides it and its layers otherwise. */
  setSession(session) {
    const ok = ROLES.has(session?.user?.role);
    this.el.hidden = !ok;
    if (!ok) {
      this.show('kde', false);
      this.show('gi', false);
    }
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
  }

  async run() {
    const out = (k) => this.el.querySelector(`[data-out=${k}]`);
    out('status').textContent = '正在计算…';
    const q = this.query();
    try {
      const [kde, gi, zones, frontages] = await Promise.all([
        get(`/api/hotspots/kde?${q}&cell_m=50`),
        get(`/api/hotspots/gistar?${q}&format=geojson&limit=3000`),
        get(`/api/hotspots/zones?${q}`),
        get(`/api/hotspots/frontages?${q}&limit=10`),
      ]);
      this.drawKde(kde);
      this.drawGi(gi);
      // The 99 % hot grids with the most reports (a small grid inside a hot area can score a high z
      // with few reports of its own).
      const hot = gi.features.filter((f) => f.properties.bin_fdr === 3)
        .sort((a, b) => b.properties.count - a.properties.count);
      out('status').textContent = `${gi.meta.points} 件 · 带宽 ${kde.bandwidth_m.toFixed(0)} m · 99% 热点网格 ${gi.meta.hot_99_fdr} 个`;
      out('sentence').textContent = zones.sentences_zh?.[0] ?? '';
      out('top').innerHTML = hot.slice(0, 10).map((f) => {
        const p = f.properties;
        return `<li>${escapeHtml(p.name)} <span class="code">${escapeHtml(p.code)}</span> · ${p.count} 件 · z ${p.z.toFixed(1)}</li>`;
      }).join('');
      out('frontages').innerHTML = frontages.map((f) => `<li>${escapeHtml(f.name)} <span class="code">${escapeHtml(f.code)}</span> · ${f.count} 件 · 每百米 ${f.per_100m.toFixed(1)} 件</li>`).join('');
    } catch (e) {
      out('status').textContent = `分析失败:${e.message}`;
    }
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
    this.show('kde', this.el.querySelector('[name=kde]').checked);
  }

  drawGi(fc) {
    const src = this.map.getSource('hotspot-gi');
    if (src) {
      src.setData(fc);
    } else {
      this.map.addSource('hotspot-gi', { type: 'geojson', data: fc });
      this.map.addLayer({ id: 'hotspot-gi', type: 'fill', source: 'hotspot-gi', filter: ['!=', ['get', 'bin_fdr'], 0], paint: { 'fill-color': BIN_COLOURS, 'fill-opacity': 0.55 } });
    }
    this.show('gi', this.el.querySelector('[name=gi]').checked);
  }
}
