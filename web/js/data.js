// Fills the style's GeoJSON sources from wangge's endpoints.
//
// Small layers (districts, streets, communities, zones, basemap) are loaded whole, once. The two
// big ones are loaded for the viewport only: unit grids (20k polygons) from GRID_MIN_ZOOM and
// 门前三包 frontages (40k segments) from FRONTAGE_MIN_ZOOM, re-requested with `bbox` after each
// move that leaves the area already loaded. When the server grows vector tiles
// (/tiles/{layer}/{z}/{x}/{y}.mvt) these two become `vector` sources and this part goes away.

import * as api from './api.js';
import { labelPoints, bboxOf } from './labels.js';
import { GRID_MIN_ZOOM, FRONTAGE_MIN_ZOOM } from './style.js';

const STATIC_LAYERS = ['district', 'street', 'community', 'zone'];
const BASEMAP = ['road', 'railway', 'water', 'building'];

/**
 * Short map label for a community: "碧沙岗社区居委会", "亚星社区居民管理委员会" → "…社区";
 * "小岗刘村委会", "…村民委员会" → "…村". The panel still shows the full official name.
 */
export function shortCommunityName(name) {
  const n = String(name ?? '');
  if (/村(民)?委(员)?会$/.test(n)) return n.replace(/(村民委员会|村委员会|村委会)$/, '村');
  return n.replace(/(居民管理委员会|管理委员会|居民委员会|居委会|委员会)$/, '').replace(/(社区)?$/, '社区');
}

const contains = (outer, inner) =>
  outer && inner[0] >= outer[0] && inner[1] >= outer[1] && inner[2] <= outer[2] && inner[3] <= outer[3];

export class DataLoader {
  /**
   * @param map the MapLibre map (its style built by style.js)
   * @param onChange called with {pending, error} whenever a load starts or ends
   */
  constructor(map, onChange = () => {}) {
    this.map = map;
    this.onChange = onChange;
    this.at = null; // ISO date for the `at` query, null = today
    this.pending = 0;
    this.error = null;
    this.names = new Map(); // code → {name, layer}, for showing parents by name
    this.viewport = {
      grid: { minzoom: GRID_MIN_ZOOM, loaded: null, abort: null, enabled: true },
      frontage: { minzoom: FRONTAGE_MIN_ZOOM, loaded: null, abort: null, enabled: true },
    };
    this.counts = {};
    this.byCode = {}; // source → Map(code → feature): full geometry for the selection outline
    this._afterGrid = [];
    map.on('moveend', () => this.loadViewport());
  }

  async _track(promise) {
    this.pending++;
    this.onChange(this);
    try {
      const result = await promise;
      this.error = null; // a later successful load clears the message of an earlier failure
      return result;
    } catch (e) {
      if (e.name !== 'AbortError') {
        this.error = e;
        console.warn('wangge: load failed', e); // a warning, not an error: the panel shows it
      }
      return null;
    } finally {
      this.pending--;
      this.onChange(this);
    }
  }

  /** Sets a source's data and remembers its features by code. */
  _set(source, fc) {
    this.map.getSource(source).setData(fc);
    this.counts[source] = fc.features.length;
    this.byCode[source] = new Map(fc.features.filter((f) => f.properties?.code).map((f) => [f.properties.code, f]));
  }

  /** A loaded feature by source and code, or undefined. */
  feature(source, code) {
    return this.byCode[source]?.get(code);
  }

  _index(layer, fc) {
    for (const f of fc.features) this.names.set(f.properties.code, { name: f.properties.name, layer });
  }

  /**
   * Loads the whole-city layers (and the basemap, which has no date, unless `basemap` is false);
   * resolves to the districts' bounding box.
   */
  async loadStatic({ basemap = true } = {}) {
    this.error = null;
    const at = this.at;
    const jobs = STATIC_LAYERS.map(async (name) => {
      const fc = await this._track(api.layer(name, { at }));
      if (!fc) return [name, null];
      this._set(name, fc);
      this._index(name, fc);
      return [name, fc];
    });
    const base = (basemap ? BASEMAP : []).map(async (kind) => {
      const fc = await this._track(api.basemap(kind));
      if (fc) this._set(kind, fc);
    });
    const loaded = Object.fromEntries(await Promise.all(jobs));
    await Promise.all(base);
    // One label point per district, street and community (see labels.js).
    const labels = [];
    for (const layer of ['district', 'street', 'community']) {
      if (!loaded[layer]) continue;
      const pts = labelPoints(loaded[layer], {
        precision: layer === 'community' ? 0.05 : 0.01,
        pick: (p) => ({ layer, short: shortCommunityName(p.name) }),
      });
      labels.push(...pts.features);
    }
    this.map.getSource('labels').setData({ type: 'FeatureCollection', features: labels });
    return loaded.district ? bboxOf(loaded.district) : null;
  }

  /** Changes the date shown (null = today) and reloads everything. */
  async setDate(at) {
    this.at = at || null;
    for (const v of Object.values(this.viewport)) v.loaded = null;
    await Promise.all([this.loadStatic({ basemap: false }), this.loadViewport()]);
  }

  setEnabled(name, enabled) {
    this.viewport[name].enabled = enabled;
    if (enabled) this.loadViewport();
  }

  /** Calls fn after every grid load (used to re-apply feature state). */
  afterGridLoad(fn) { this._afterGrid.push(fn); }

  /** Requests grids/frontages for the current view when the view left the loaded area. */
  async loadViewport() {
    const zoom = this.map.getZoom();
    const b = this.map.getBounds();
    const view = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
    await Promise.all(Object.entries(this.viewport).map(async ([name, v]) => {
      if (!v.enabled || zoom < v.minzoom || contains(v.loaded, view)) return;
      // Pad the request so small pans need no new request; less at the lowest zoom, where the
      // viewport alone holds thousands of grids.
      const pad = zoom >= v.minzoom + 1 ? 0.5 : 0.1;
      const w = view[2] - view[0];
      const h = view[3] - view[1];
      const bbox = [view[0] - w * pad, view[1] - h * pad, view[2] + w * pad, view[3] + h * pad];
      v.abort?.abort();
      const ctl = new AbortController();
      v.abort = ctl;
      const fc = await this._track(api.layer(name, { bbox, at: this.at, signal: ctl.signal }));
      if (!fc || ctl.signal.aborted) return;
      v.abort = null;
      v.loaded = bbox;
      this._set(name, fc);
      if (name === 'grid') {
        this._index('grid', fc);
        this.map.getSource('grid-label').setData(labelPoints(fc, { precision: 0.1 }));
        this._afterGrid.forEach((fn) => fn(fc));
      }
    }));
  }
}
