// The inspector's home: place search for everyone (GET /api/search) and, for an inspector, the
// list 我的网格 with each grid's open cases; after login the map flies to the patrolled grids.
//
// The grids are drawn as vector tiles from zoom 13 only, so the patrolled grids get a GeoJSON
// source of their own (from the layer export, by the grids' bounding box): the blue highlight the
// legend promises is then visible at every zoom, whatever tiles are loaded.

import * as api from './api.js';
import { escapeHtml } from './info.js';
import { FINAL } from './cases.js';
import { COLORS } from './style.js';
import { labelPoints } from './labels.js';
import { ownerChainHtml } from './owner.js';

const EMPTY = { type: 'FeatureCollection', features: [] };
/** Wait this long after the last keystroke before asking the server. */
const DEBOUNCE_MS = 180;
/** Results asked for; the server allows 1–50. */
const RESULTS = 10;
/** How close the map comes to a place of each kind when flying there. */
const MAX_ZOOM = { district: 13, street: 15, community: 16, grid: 18, road: 17 };
/** Ask for at most this many grids' boxes at once (an inspector patrols a handful). */
const PARALLEL = 6;

const union = (boxes) => boxes.reduce((a, b) => [
  Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3]),
]);
const lngLatBounds = (b) => [[b[0], b[1]], [b[2], b[3]]];

/** GET /api/search (public). */
export function search(q, { limit = RESULTS, signal } = {}) {
  const qs = new URLSearchParams({ q, limit: String(limit) });
  return api.request(`/api/search?${qs}`, { signal, auth: false });
}

/** Short community name for the list: 碧沙岗社区居委会 → 碧沙岗社区. */
const shortName = (n) => String(n ?? '').replace(/(居民委员会|居委会|村民委员会|村委会)$/, (m) => (m.startsWith('村') ? '村' : ''));

export class HomePanel {
  /**
   * @param map the MapLibre map
   * @param panel the side panel element: the search card goes to its top, 我的网格 below it
   * @param opts.info the InfoPanel that opens a picked place
   * @param opts.feed the CaseFeed whose cases are counted per grid
   * @param opts.loader the DataLoader (full features of the whole-city layers)
   * @param opts.onPick called after a place was picked (closes the panel on a phone)
   */
  constructor(map, panel, { info, feed, loader, onPick = () => {} }) {
    this.map = map;
    this.info = info;
    this.feed = feed;
    this.loader = loader;
    this.onPick = onPick;
    this.grids = []; // [{code, name, community, street, district, bbox}] in the session's order
    this.pending = 0;
    this.results = [];
    this.active = -1;
    this._seq = 0;
    this._pickSeq = 0;

    this.searchEl = document.createElement('section');
    this.searchEl.className = 'card home-search';
    this.searchEl.setAttribute('role', 'search');
    this.searchEl.innerHTML = `
      <label for="home-q" class="home-label">查找地点</label>
      <input id="home-q" type="search" autocomplete="off" spellcheck="false" maxlength="64"
        placeholder="网格编码、社区、街道或道路名称"
        role="combobox" aria-autocomplete="list" aria-expanded="false" aria-controls="home-results">
      <ul id="home-results" role="listbox" aria-label="查找结果" hidden></ul>
      <p class="muted small home-status" aria-live="polite"></p>`;
    this.mineEl = document.createElement('section');
    this.mineEl.className = 'card home-mine';
    this.mineEl.id = 'my-grids';
    this.mineEl.hidden = true;
    this.mineEl.setAttribute('aria-labelledby', 'my-grids-title');
    const head = panel.querySelector('.panel-head');
    head.after(this.searchEl, this.mineEl);

    this.input = this.searchEl.querySelector('input');
    this.list = this.searchEl.querySelector('ul');
    this.status = this.searchEl.querySelector('.home-status');
    this.input.addEventListener('input', () => this._schedule());
    this.input.addEventListener('keydown', (e) => this._key(e));
    this.list.addEventListener('keydown', (e) => this._key(e));
    this.list.addEventListener('click', (e) => {
      const li = e.target.closest('[role=option]');
      if (li) this.pick(this.results[Number(li.dataset.i)]);
    });
    this.mineEl.addEventListener('click', (e) => {
      const b = e.target.closest('[data-grid]');
      if (b) this.showGrid(b.dataset.grid);
      if (e.target.closest('[data-action=all-grids]')) this.showMine();
    });
  }

  /** Adds the highlight sources and layers (after the style has loaded). */
  addLayers() {
    const map = this.map;
    map.addSource('home-mine', { type: 'geojson', data: EMPTY, promoteId: 'code' });
    // Above the grid outlines, below the points and labels.
    const before = map.getLayer('selected-fill') ? 'selected-fill' : undefined;
    map.addLayer({
      id: 'home-mine-fill', type: 'fill', source: 'home-mine',
      // From zoom 13 grid-fill's `mine` state tints the same grids: no double tint.
      paint: { 'fill-color': COLORS.highlight, 'fill-opacity': ['step', ['zoom'], 0.25, 13, 0] },
    }, before);
    map.addLayer({
      id: 'home-mine-line', type: 'line', source: 'home-mine',
      paint: { 'line-color': COLORS.highlight, 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 1.5, 16, 3] },
    }, before);
    // A picked road: its segments by name from the basemap's road source.
    map.addLayer({
      id: 'home-road', type: 'line', source: 'road', filter: ['==', ['get', 'name'], ''],
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': COLORS.highlight, 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 4, 17, 12], 'line-opacity': 0.7 },
    }, map.getLayer('road-label') ? 'road-label' : undefined);
  }

  // --- 我的网格 ------------------------------------------------------------------------------

  /**
   * A new session (or none). An inspector's grids are looked up, listed, highlighted and shown;
   * resolves when the map has started moving there.
   */
  async setSession(session) {
    const codes = session?.user?.grids ?? [];
    this.grids = [];
    this._mineSeq = (this._mineSeq ?? 0) + 1;
    const seq = this._mineSeq;
    this.map.getSource('home-mine')?.setData(EMPTY);
    if (!codes.length) {
      this.mineEl.hidden = true;
      this.mineEl.innerHTML = '';
      return;
    }
    this.mineEl.hidden = false;
    this.mineEl.innerHTML = `<h2 id="my-grids-title">我的网格</h2><p class="muted">正在查找负责网格…</p>`;
    this.pending++;
    try {
      const found = [];
      for (let i = 0; i < codes.length; i += PARALLEL) {
        const batch = codes.slice(i, i + PARALLEL);
        found.push(...await Promise.all(batch.map((code) => search(code, { limit: 1 })
          .then((r) => (r[0]?.code === code ? r[0] : null), () => null))));
      }
      if (seq !== this._mineSeq) return;
      this.grids = codes.map((code, i) => {
        const r = found[i];
        const parent = (kind) => r?.parents?.find((p) => p.kind === kind)?.name ?? '';
        return r ? { code, name: r.name, community: parent('community'), street: parent('street'), district: parent('district'), bbox: r.bbox } : { code, name: code, bbox: null };
      });
      this.render();
      const boxes = this.grids.map((g) => g.bbox).filter(Boolean);
      if (!boxes.length) return;
      this.bbox = union(boxes);
      this.showMine({ focus: false });
      // The outlines themselves: the grids within the union of their boxes, kept if patrolled.
      const fc = await api.layer('grid', { bbox: this.bbox }).catch(() => null);
      if (seq !== this._mineSeq || !fc) return;
      const mine = new Set(codes);
      this.map.getSource('home-mine')?.setData({ type: 'FeatureCollection', features: fc.features.filter((f) => mine.has(f.properties.code)) });
    } finally {
      this.pending--;
    }
  }

  /** Open cases per grid code, from the case feed (what the user may list). */
  openCounts() {
    const counts = new Map();
    for (const c of this.feed?.cases?.values() ?? []) {
      if (c.grid_code && !FINAL.includes(c.status)) counts.set(c.grid_code, (counts.get(c.grid_code) ?? 0) + 1);
    }
    return counts;
  }

  /** The case feed changed: recount. */
  onCases() {
    if (this.grids.length) this.render();
  }

  render() {
    const counts = this.openCounts();
    const loaded = this.feed?.live !== 'off' || (this.feed?.cases?.size ?? 0) > 0;
    const total = this.grids.reduce((n, g) => n + (counts.get(g.code) ?? 0), 0);
    const items = this.grids.map((g) => {
      const n = counts.get(g.code) ?? 0;
      const where = [g.district, g.street, shortName(g.community)].filter(Boolean).join(' · ');
      return `<li>
        <button type="button" class="home-grid" data-grid="${escapeHtml(g.code)}" aria-label="${escapeHtml(`${g.name},${n} 件未结案件,在地图上查看`)}">
          <span class="home-grid-name">${escapeHtml(g.name)}</span>
          <span class="home-open${n ? ' has-open' : ''}" data-open="${n}">${loaded ? `未结 ${n}` : '未结 …'}</span>
          <span class="home-where muted small">${escapeHtml(where)}</span>
          <span class="code small">${escapeHtml(g.code)}</span>
        </button></li>`;
    }).join('');
    const focused = this.mineEl.contains(document.activeElement) ? document.activeElement.dataset.grid : null;
    this.mineEl.innerHTML = `
      <div class="home-mine-head">
        <h2 id="my-grids-title">我的网格 <span class="muted small">${this.grids.length} 个 · 未结案件 ${loaded ? total : '…'} 件</span></h2>
        <button type="button" data-action="all-grids">全部显示</button>
      </div>
      <p class="muted small">地图上以蓝色标出;点一个网格飞到那里。</p>
      <ul class="home-grids">${items}</ul>`;
    if (focused) this.mineEl.querySelector(`[data-grid="${CSS.escape(focused)}"]`)?.focus();
  }

  /** Fits the map to all patrolled grids. */
  showMine({ focus = true } = {}) {
    if (!this.bbox) return;
    this.map.fitBounds(lngLatBounds(this.bbox), { padding: this._padding(), maxZoom: 17, duration: focus ? 600 : 0 });
  }

  /** Flies to one patrolled grid and opens it. */
  showGrid(code) {
    const g = this.grids.find((x) => x.code === code);
    if (!g?.bbox) return;
    this.pick({ kind: 'grid', kind_zh: '单元网格', code: g.code, name: g.name, bbox: g.bbox, chain: [g.district, g.street, g.community].filter(Boolean).join(' › ') });
  }

  _padding() {
    const phone = window.matchMedia('(max-width: 720px)').matches;
    return phone ? { top: 40, bottom: 40, left: 20, right: 20 } : 40;
  }

  // --- search --------------------------------------------------------------------------------

  _schedule() {
    clearTimeout(this._timer);
    const q = this.input.value.trim();
    if (!q) {
      this._abort?.abort();
      this._show([]);
      this.status.textContent = '';
      return;
    }
    this._timer = setTimeout(() => this._run(q), DEBOUNCE_MS);
  }

  async _run(q) {
    this._abort?.abort();
    const ctl = new AbortController();
    this._abort = ctl;
    const seq = ++this._seq;
    this.pending++;
    try {
      const found = await search(q.slice(0, 64), { signal: ctl.signal });
      if (seq !== this._seq) return;
      this._show(found);
      this.status.textContent = found.length ? `找到 ${found.length} 个地点,用 ↑↓ 选择,回车前往` : `没有找到“${q}”`;
    } catch (e) {
      if (e.name === 'AbortError' || seq !== this._seq) return;
      this._show([]);
      this.status.textContent = e instanceof api.ApiError && e.message ? e.message.split(/(?<=。)/)[0] : '查找失败:无法连接服务,请稍后再试';
    } finally {
      this.pending--;
    }
  }

  _show(results) {
    this.results = results;
    this.active = -1;
    this.list.innerHTML = results.map((r, i) => `
      <li role="option" id="home-opt-${i}" data-i="${i}" aria-selected="false" tabindex="-1">
        <span class="home-kind">${escapeHtml(r.kind_zh)}</span>
        <span class="home-name">${escapeHtml(r.name)}</span>
        <span class="home-chain muted small">${escapeHtml(r.chain || '')}${r.code ? ` <span class="code">${escapeHtml(r.code)}</span>` : ''}</span>
      </li>`).join('');
    this.list.hidden = !results.length;
    this.input.setAttribute('aria-expanded', String(results.length > 0));
    this.input.removeAttribute('aria-activedescendant');
  }

  _close() {
    this._show([]);
    this.status.textContent = '';
  }

  _setActive(i) {
    const n = this.results.length;
    if (!n) return;
    this.active = (i + n) % n;
    for (const li of this.list.children) li.setAttribute('aria-selected', String(Number(li.dataset.i) === this.active));
    const li = this.list.children[this.active];
    this.input.setAttribute('aria-activedescendant', li.id);
    li.focus();
  }

  _key(e) {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      if (this.list.hidden && this.input.value.trim()) this._run(this.input.value.trim());
      else this._setActive(this.active + 1);
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      if (this.active <= 0) {
        this.active = -1;
        for (const li of this.list.children) li.setAttribute('aria-selected', 'false');
        this.input.focus();
      } else this._setActive(this.active - 1);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      const r = this.results[this.active >= 0 ? this.active : 0];
      if (r) this.pick(r);
    } else if (e.key === 'Escape') {
      if (!this.list.hidden) {
        e.preventDefault();
        this._close();
        this.input.focus();
      }
    }
  }

  /**
   * Flies to a place ({kind, code, name, bbox, chain}), highlights it and opens it in the info
   * panel, moving the focus there.
   */
  async pick(r) {
    if (!r?.bbox) return;
    this._close();
    this.onPick(r);
    const map = this.map;
    map.setFilter('home-road', ['==', ['get', 'name'], r.kind === 'road' ? r.name : '']);
    map.getSource('selected')?.setData(EMPTY);
    map.fitBounds(lngLatBounds(r.bbox), { padding: this._padding(), maxZoom: MAX_ZOOM[r.kind] ?? 16, duration: 600 });
    const seq = ++this._pickSeq;
    this.pending++;
    try {
      if (r.kind === 'road') {
        this.info.open({
          source: 'road', tag: '道路', title: r.name,
          body: `<table class="props"><tr><th>所在</th><td>${escapeHtml(r.chain || '—')}</td></tr></table>
            <p class="muted small">地图上以蓝色标出这条道路的各段。</p>`,
        });
      } else {
        const feature = await this._feature(r);
        if (seq !== this._pickSeq) return;
        if (feature) map.getSource('selected')?.setData({ type: 'FeatureCollection', features: [feature] });
        // The owner chain of a point inside the place (its pole of inaccessibility).
        const inside = feature ? labelPoints({ type: 'FeatureCollection', features: [feature] }, { precision: 0.05 }).features[0] : null;
        const at = inside?.geometry?.coordinates;
        const owner = r.kind === 'grid' && at ? api.assign(at[0], at[1]).then(ownerChainHtml, () => ownerChainHtml(null)) : null;
        this.info.show({ source: r.kind, properties: { ...(feature?.properties ?? {}), code: r.code, name: r.name } }, owner);
      }
      const title = this.info.el.querySelector('h2');
      if (title) {
        title.tabIndex = -1;
        title.focus();
      }
    } finally {
      this.pending--;
    }
  }

  /** The place's full feature: loaded whole for districts, streets, communities; asked for grids. */
  async _feature(r) {
    const known = this.loader.feature(r.kind, r.code);
    if (known) return known;
    if (r.kind !== 'grid') return null;
    const fc = await api.layer('grid', { bbox: r.bbox }).catch(() => null);
    return fc?.features.find((f) => f.properties.code === r.code) ?? null;
  }
}
