// Fills the style's sources from wangge's endpoints.
//
// Small layers (districts, streets, communities, zones, basemap) are loaded whole as GeoJSON,
// once. The two big ones, unit grids (20k polygons) and 门前三包 frontages (40k segments), are
// vector tiles (/tiles/{layer}/{z}/{x}/{y}.mvt) while the page shows today's layers. Tiles only
// hold the current version, so when the date field points to the past these two sources are
// swapped for GeoJSON loaded for the viewport only (from GRID_MIN_ZOOM and FRONTAGE_MIN_ZOOM,
// re-requested with `bbox` after each move that leaves the area already loaded).
//
// Grid code labels: one point per grid, at its pole of inaccessibility (labels.js). From tiles,
// a grid cut by a tile edge arrives in pieces; the largest piece carries the label.

import * as api from './api.js';
import { labelPoints, bboxOf } from './labels.js';
import { GRID_MIN_ZOOM, FRONTAGE_MIN_ZOOM, TILED, buildStyle } from './style.js';

const EMPTY = { type: 'FeatureCollection', features: [] };
/** Grid code labels are shown from zoom 16 (style.js); start computing them a little earlier. */
const GRID_LABEL_ZOOM = 15.5;

function ringArea(ring) {
  let s = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) s += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
  return Math.abs(s / 2);
}

function outerArea(geometry) {
  if (geometry?.type === 'Polygon') return ringArea(geometry.coordinates[0]);
  if (geometry?.type === 'MultiPolygon') return Math.max(0, ...geometry.coordinates.map((p) => ringArea(p[0])));
  return 0;
}

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
    this.tiles = true; // grids and frontages from vector tiles (today) or GeoJSON (a past date)
    this.labelsPending = false; // grid code labels are being recomputed from tiles
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
    map.on('moveend', () => {
      this.loadViewport();
      this._scheduleTileLabels();
    });
    map.on('sourcedata', (e) => {
      if (e.sourceId === 'grid' && e.tile) this._scheduleTileLabels();
    });
  }

  /** The target of grid feature state: the vector source names its layer too. */
  gridState(id) {
    return { source: 'grid', ...(this.tiles ? { sourceLayer: 'grid' } : {}), ...(id ? { id } : {}) };
  }

  /**
   * Swaps the grid and frontage sources between vector tiles and GeoJSON, keeping the layers'
   * order and visibility.
   */
  _setTiles(tiles) {
    if (tiles === this.tiles) return;
    this.tiles = tiles;
    const map = this.map;
    const style = buildStyle({ tiles });
    const order = map.getStyle().layers.map((l) => l.id);
    const removed = order.filter((id) => TILED[map.getLayer(id)?.source]);
    const visibility = Object.fromEntries(removed.map((id) => [id, map.getLayoutProperty(id, 'visibility') ?? 'visible']));
    for (const id of removed) map.removeLayer(id);
    for (const name of Object.keys(TILED)) {
      map.removeSource(name);
      map.addSource(name, style.sources[name]);
      delete this.byCode[name];
    }
    for (const id of removed) {
      const spec = style.layers.find((l) => l.id === id);
      spec.layout = { ...spec.layout, visibility: visibility[id] };
      const before = order.slice(order.indexOf(id) + 1).find((x) => map.getLayer(x));
      map.addLayer(spec, before);
    }
    map.getSource('grid-label').setData(EMPTY);
    this._afterGrid.forEach((fn) => fn(null));
  }

  _scheduleTileLabels() {
    if (!this.tiles) return;
    this.labelsPending = true;
    clearTimeout(this._labelTimer);
    this._labelTimer = setTimeout(() => this._tileLabels(), 60);
  }

  /** One label point per grid in the loaded tiles (the largest piece of a grid cut by tile edges). */
  _tileLabels() {
    const map = this.map;
    this.labelsPending = false;
    if (!this.tiles) return;
    if (map.getZoom() < GRID_LABEL_ZOOM || !this.viewport.grid.enabled || !map.getSource('grid')) {
      map.getSource('grid-label').setData(EMPTY);
      return;
    }
    const best = new Map();
    for (const f of map.querySourceFeatures('grid', { sourceLayer: 'grid' })) {
      const code = f.properties.code;
      const area = outerArea(f.geometry);
      if (!code || area === 0) continue;
      if (!best.has(code) || best.get(code).area < area) {
        best.set(code, { area, feature: { type: 'Feature', geometry: f.geometry, properties: f.properties } });
      }
      this.names.set(code, { name: f.properties.name, layer: 'grid' });
    }
    const fc = { type: 'FeatureCollection', features: [...best.values()].map((b) => b.feature) };
    map.getSource('grid-label').setData(labelPoints(fc, { precision: 0.1 }));
  }

  /**
   * The clicked feature with its full geometry and all its properties (rendered features are cut
   * at tile edges, and tiles carry only a few properties): from what GeoJSON is loaded, else a
   * small bounding-box request around the click.
   */
  async fullFeature(f, lngLat) {
    const known = this.feature(f.source, f.properties.code);
    if (known) return known;
    const fallback = { type: 'Feature', geometry: f.geometry, properties: f.properties };
    if (!TILED[f.source] || !lngLat) return fallback;
    const d = 0.0005; // about 50 m: a frontage within the click tolerance is inside
    const bbox = [lngLat.lng - d, lngLat.lat - d, lngLat.lng + d, lngLat.lat + d];
    const fc = await this._track(api.layer(f.source, { bbox, at: this.at }));
    return fc?.features.find((x) => x.properties.code === f.properties.code) ?? fallback;
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
    // Tiles hold today's layers: a date before today needs GeoJSON for that date.
    const today = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai' }).format(new Date());
    this._setTiles(!this.at || this.at >= today);
    for (const v of Object.values(this.viewport)) v.loaded = null;
    await Promise.all([this.loadStatic({ basemap: false }), this.loadViewport()]);
  }

  setEnabled(name, enabled) {
    this.viewport[name].enabled = enabled;
    if (enabled) this.loadViewport();
    if (name === 'grid') this._scheduleTileLabels();
  }

  /** Calls fn after every grid load (used to re-apply feature state). */
  afterGridLoad(fn) { this._afterGrid.push(fn); }

  /** Requests grids/frontages for the current view when the view left the loaded area. */
  async loadViewport() {
    if (this.tiles) return;
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
