// Cases on the map: pins coloured by status (fill) and traffic light (ring), clustered on the
// server, from wangge's case tiles (GET /tiles/cases/{z}/{x}/{y}.mvt, bearer token added by the
// map's transformRequest, see caseTileRequest), filtered by category and time range; and a
// heatmap from GeoJSON. The work lists and the heatmap use every case the logged-in user may list
// (GET /api/cases/export?format=geojson when the server has it, else GET /api/cases page by
// page), kept current by the server's event stream (GET /api/cases/stream, EventSource with
// ?access_token=) when it has one, else by a gentle poll; a change reloads the case tiles.

import * as api from './api.js';
import { FONT_STACK } from './style.js';

/** Status → [中文, colour], in workflow order. */
export const STATUS = {
  verifying: ['待核实', '#8d8d8d'],
  collected: ['已采集(待立案)', '#7b52ab'],
  registered: ['已立案(待派遣)', '#1f6fc5'],
  dispatched: ['已派遣', '#0aa1b5'],
  handling: ['处置中', '#ef7d00'],
  fed_back: ['已反馈(待核查)', '#b59b00'],
  checked: ['核查通过(待结案)', '#2e9d48'],
  closed: ['已结案', '#4a4a4a'],
  parked: ['挂账', '#9c5b34'],
  voided: ['作废', '#c8c8c8'],
  merged: ['已合并(重复上报)', '#b9aed1'],
};
/** Statuses that need no more work. */
export const FINAL = ['closed', 'voided', 'merged'];
/** Deadline light → [中文, colour]: the ring around the pin. */
export const LIGHT = { green: ['按时', '#2e7d32'], yellow: ['临期', '#f2b400'], red: ['超期', '#d32f2f'] };

export const CASE_GROUPS = [
  {
    id: 'cases', title: '案件',
    layers: ['cases-cluster', 'cases-count', 'cases-pin'],
    legend: [
      ...Object.values(STATUS).map(([label, color]) => ({ label, kind: 'circle', color })),
      ...Object.values(LIGHT).map(([label, color]) => ({ label: `外圈:${label}`, kind: 'ring', color })),
      { label: '聚合(红色含超期)', kind: 'circle', color: '#3d6fb6' },
    ],
  },
  {
    id: 'heat', title: '案件热力图', off: true,
    layers: ['cases-heat'],
    legend: [{ label: '少 → 多', kind: 'heat' }],
  },
];

const EMPTY = { type: 'FeatureCollection', features: [] };
const statusColor = ['match', ['get', 'status'], ...Object.entries(STATUS).flatMap(([k, [, c]]) => [k, c]), '#777777'];
const lightColor = ['match', ['coalesce', ['get', 'light'], ''], ...Object.entries(LIGHT).flatMap(([k, [, c]]) => [k, c]), '#ffffff'];

/** Tile URLs of the cases: under /tiles/cases/ only (the map adds the token to just these). */
const CASE_TILES = '/tiles/cases/';
/** Zoom from which the server sends one pin per case (CASE_PINS_FROM_ZOOM in src/http/tiles.rs). */
export const PINS_FROM_ZOOM = 15;
const IS_CLUSTER = ['==', ['get', 'cluster'], '1'];

/**
 * MapLibre `transformRequest`: the bearer token for case tiles, nothing for any other URL (the
 * other tiles are public and cacheable). Anonymous users and volunteers never get case tiles (the layer is
 * hidden), so no 401 is ever asked for.
 */
export function caseTileRequest(url) {
  const token = api.staffSession()?.token;
  if (!token || !url.includes(CASE_TILES)) return undefined;
  return { url, headers: { Authorization: `Bearer ${token}` } };
}

/**
 * The case tile URL template for a filter {category, from, to} (days in China Standard Time,
 * inclusive) and a version `v` that makes every URL new after a change (cache busting).
 */
export function caseTileUrl({ category = '', from = '', to = '' } = {}, v = 0) {
  const q = new URLSearchParams();
  if (category) q.set('category', category);
  if (from) q.set('from', `${from}T00:00:00+08:00`);
  if (to) {
    // The server's `to` is exclusive: the day after, at midnight.
    const next = new Date(Date.parse(`${to}T00:00:00+08:00`) + 86_400_000);
    q.set('to', `${next.toISOString().slice(0, 19)}Z`);
  }
  q.set('v', String(v));
  const origin = globalThis.location?.origin ?? '';
  return `${origin}${CASE_TILES}{z}/{x}/{y}.mvt?${q}`;
}

/** Adds the case sources and layers on top of the map's style (pins hidden until a login). */
export function addCaseLayers(map) {
  // Absolute URL: tiles are fetched from MapLibre's worker, where a relative URL has nothing to
  // be relative to. Pins stop changing at the pin zoom, so deeper zooms overzoom z16 tiles.
  map.addSource('cases', { type: 'vector', tiles: [caseTileUrl()], minzoom: 0, maxzoom: 16 });
  map.addSource('cases-heat', { type: 'geojson', data: EMPTY });
  map.addLayer({
    id: 'cases-heat', type: 'heatmap', source: 'cases-heat', layout: { visibility: 'none' },
    paint: {
      'heatmap-radius': ['interpolate', ['linear'], ['zoom'], 10, 12, 16, 40],
      'heatmap-intensity': ['interpolate', ['linear'], ['zoom'], 10, 0.8, 16, 2],
      'heatmap-opacity': 0.75,
    },
  });
  const hidden = { visibility: 'none' };
  map.addLayer({
    id: 'cases-cluster', type: 'circle', source: 'cases', 'source-layer': 'cases', filter: IS_CLUSTER, layout: hidden,
    paint: {
      'circle-color': ['case', ['>', ['to-number', ['get', 'overdue']], 0], '#d84a3a', '#3d6fb6'],
      'circle-radius': ['step', ['to-number', ['get', 'point_count']], 14, 10, 18, 50, 24, 200, 30],
      'circle-opacity': 0.85, 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2,
    },
  });
  map.addLayer({
    id: 'cases-count', type: 'symbol', source: 'cases', 'source-layer': 'cases', filter: IS_CLUSTER,
    layout: {
      ...hidden,
      'text-field': ['number-format', ['to-number', ['get', 'point_count']], { locale: 'zh-CN' }],
      'text-font': FONT_STACK, 'text-size': 13, 'text-allow-overlap': true,
    },
    paint: { 'text-color': '#ffffff' },
  });
  map.addLayer({
    id: 'cases-pin', type: 'circle', source: 'cases', 'source-layer': 'cases', filter: ['!', IS_CLUSTER], layout: hidden,
    paint: {
      'circle-color': statusColor,
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 6, 16, 9],
      'circle-stroke-color': lightColor,
      'circle-stroke-width': ['case', ['in', ['get', 'light'], ['literal', ['red', 'yellow', 'green']]], 3.5, 2],
    },
  });
}

const asFeature = (c) => ({
  type: 'Feature',
  geometry: { type: 'Point', coordinates: [c.lon, c.lat] },
  properties: {
    id: c.id, case_no: c.case_no, status: c.status, category: c.category,
    reported_at: c.reported_at, ...(c.light ? { light: c.light } : {}),
  },
});

const POLL_MS = 20_000;
const MAX_CASES = 5000;
/** A burst of changes (a stream replay, a colleague's busy minute) reloads the tiles once. */
const TILE_DEBOUNCE_MS = 1000;
/** What a pin shows: a change of any of these reloads the case tiles. */
const PIN_FIELDS = ['status', 'light', 'category', 'lon', 'lat'];
const PIN_LAYERS = ['cases-cluster', 'cases-count', 'cases-pin'];

/** The cases the user may list, with live updates. `onChange(cases: Map)` after every change. */
export class CaseFeed {
  constructor(map, onChange = () => {}) {
    this.map = map;
    this.onChange = onChange;
    this.cases = new Map(); // id → CaseView
    this.heatFilter = { category: '', from: '', to: '' };
    this.live = 'off'; // off | stream | poll
    this.pending = 0;
    this.pinsWanted = true; // the 案件 switch in the layer list
    this.tileVersion = 0;
    this._tileTimer = null;
  }

  /** Whether the case pins are drawn: the layer switch is on and a staff member is logged in. */
  get pinsShown() {
    return this.pinsWanted && !!api.staffSession();
  }

  /** The 案件 layer switch. */
  setPinsWanted(on) {
    this.pinsWanted = !!on;
    this._applyPins();
  }

  _applyPins() {
    const vis = this.pinsShown ? 'visible' : 'none';
    for (const id of PIN_LAYERS) if (this.map.getLayer(id)) this.map.setLayoutProperty(id, 'visibility', vis);
  }

  /** Case tiles afresh now: new URLs (filter and version), so no cached tile is reused. */
  reloadTiles() {
    if (this._tileTimer) {
      clearTimeout(this._tileTimer);
      this._tileTimer = null;
      this.pending--;
    }
    this.tileVersion++;
    this.map.getSource('cases')?.setTiles([caseTileUrl(this.heatFilter, this.tileVersion)]);
  }

  /** Case tiles afresh after a quiet second (debounced); counted as pending until then. */
  scheduleTiles() {
    if (!api.staffSession()) return;
    if (this._tileTimer) clearTimeout(this._tileTimer);
    else this.pending++;
    this._tileTimer = setTimeout(() => {
      this._tileTimer = null;
      this.pending--;
      this.reloadTiles();
    }, TILE_DEBOUNCE_MS);
  }

  async start() {
    this.stop();
    // A login or logout: new tiles for the new user (or none), before the list has loaded.
    this._applyPins();
    this.reloadTiles();
    if (!api.staffSession()) {
      this._publish();
      return;
    }
    await this.reload();
    const token = api.staffSession()?.token;
    if (token && await api.hasPath('/api/cases/stream')) {
      this._openStream(token);
    } else {
      this._startPoll();
    }
  }

  _startPoll() {
    this._poll = setInterval(() => this.reload().then(() => this.scheduleTiles()), POLL_MS);
    this.live = 'poll';
  }

  stop() {
    if (this._tileTimer) {
      clearTimeout(this._tileTimer);
      this._tileTimer = null;
      this.pending--;
    }
    this.source?.close();
    this.source = null;
    clearInterval(this._poll);
    this.live = 'off';
    this.cases.clear();
  }

  _openStream(token) {
    const es = new EventSource(`/api/cases/stream?access_token=${encodeURIComponent(token)}`);
    this.source = es;
    this.live = 'stream';
    es.addEventListener('case', (e) => {
      try {
        const msg = JSON.parse(e.data);
        if (msg.case) this.upsert(msg.case);
      } catch (err) {
        console.warn('wangge: bad case event', err);
      }
    });
    es.onerror = () => {
      // EventSource reconnects by itself (with Last-Event-ID); when it gives up, poll instead.
      if (es.readyState === EventSource.CLOSED && this.source === es) {
        this.source = null;
        this._startPoll();
      }
    };
  }

  /** Loads every case again (up to MAX_CASES). */
  async reload() {
    if (!api.staffSession()) return;
    this.pending++;
    try {
      let list = [];
      if (await api.hasPath('/api/cases/export')) {
        const fc = await api.request('/api/cases/export?format=geojson');
        list = (fc?.features ?? []).map((f) => ({ lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1], ...f.properties }));
      } else {
        let before = null;
        while (list.length < MAX_CASES) {
          const page = await api.cases({ limit: 1000, before_id: before });
          list.push(...page);
          if (page.length < 1000) break;
          before = page[page.length - 1].id;
        }
      }
      this.cases = new Map(list.map((c) => [c.id, c]));
      this._publish();
    } catch (e) {
      console.warn('wangge: cases not loaded', e);
    } finally {
      this.pending--;
    }
  }

  /** Puts one case (a CaseView) into the feed, e.g. after an action or an event. */
  upsert(c) {
    if (!c?.id) return;
    const old = this.cases.get(c.id);
    this.cases.set(c.id, { ...old, ...c });
    // Only what a pin shows reloads the tiles (opening a case upserts it unchanged).
    if (!old || PIN_FIELDS.some((k) => k in c && c[k] !== old[k])) this.scheduleTiles();
    this._publish();
  }

  /** The category and date filter {category, from, to}: the pins (tile URL) and the heatmap. */
  setHeatFilter(f) {
    this.heatFilter = { ...this.heatFilter, ...f };
    this._publishHeat();
    if (api.staffSession()) this.reloadTiles();
  }

  _publishHeat() {
    const { category, from, to } = this.heatFilter;
    // Dates are days in China Standard Time, inclusive.
    const lo = from ? Date.parse(`${from}T00:00:00+08:00`) : -Infinity;
    const hi = to ? Date.parse(`${to}T23:59:59.999+08:00`) : Infinity;
    const features = [...this.cases.values()]
      .filter((c) => (!category || c.category === category) && Date.parse(c.reported_at) >= lo && Date.parse(c.reported_at) <= hi)
      .map(asFeature);
    this.map.getSource('cases-heat')?.setData({ type: 'FeatureCollection', features });
    this.heatCount = features.length;
  }

  /** Brings the map's case layers up to date (after the case layers were added). */
  refreshMap() {
    this._applyPins();
    this.reloadTiles();
    this._publishHeat();
  }

  _publish() {
    this._publishHeat();
    this.onChange(this.cases);
  }
}
