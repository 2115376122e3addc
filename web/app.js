// wangge map page: entry point. Builds the map from wangge's own layers and wires the panels.
// Plain ES modules, no bundler; MapLibre GL JS is vendored under vendor/ (see update-vendor.sh).

import * as maplibregl from './vendor/maplibre-gl/maplibre-gl.mjs';
import { buildStyle, GROUPS, CLICKABLE, FONT_STACK } from './js/style.js';
import { DataLoader } from './js/data.js';
import { InfoPanel } from './js/info.js';
import { renderLayerList, LoginBox, renderStatus } from './js/panel.js';
import { assign } from './js/api.js';
import { ownerChainHtml } from './js/owner.js';
import { CaseFeed, CASE_GROUPS, FINAL, addCaseLayers, caseTileRequest } from './js/cases.js';
import { CaseWork, errorZh } from './js/casework.js';
import { PlannerPanel } from './js/planner.js';
import { KaopingPanel } from './js/kaoping.js';
import { PointStatusLayer, POINT_STATUS_GROUP } from './js/pointstatus.js';
import { InspectPanel } from './js/inspect.js';
import { HomePanel } from './js/home.js';

const $ = (sel) => document.querySelector(sel);
const PHONE = window.matchMedia('(max-width: 720px)');

/** MapLibre's control strings (its `locale` keys) in Chinese. */
const MAP_LOCALE_ZH = {
  'AttributionControl.ToggleAttribution': '显示或隐藏数据来源',
  'AttributionControl.MapFeedback': '地图反馈',
  'FullscreenControl.Enter': '全屏',
  'FullscreenControl.Exit': '退出全屏',
  'GeolocateControl.FindMyLocation': '定位到我的位置',
  'GeolocateControl.LocationNotAvailable': '无法获取位置',
  'LogoControl.Title': 'MapLibre 标志',
  'Map.Title': '地图',
  'NavigationControl.ResetBearing': '恢复正北方向',
  'NavigationControl.ZoomIn': '放大',
  'NavigationControl.ZoomOut': '缩小',
  'ScaleControl.Feet': '英尺',
  'ScaleControl.Meters': '米',
  'ScaleControl.Kilometers': '千米',
  'ScaleControl.Miles': '英里',
  'ScaleControl.NauticalMiles': '海里',
  'CooperativeGesturesHandler.WindowsHelpText': '按住 Ctrl 键并滚动鼠标滚轮缩放地图',
  'CooperativeGesturesHandler.MacHelpText': '按住 ⌘ 键并滚动鼠标滚轮缩放地图',
  'CooperativeGesturesHandler.MobileHelpText': '用两根手指移动地图',
};

// Whole demo city, shown until the district outlines arrive.
const CITY_BOUNDS = [[113.44, 34.60], [113.68, 34.87]];

const map = new maplibregl.Map({
  container: 'map',
  style: buildStyle(),
  bounds: CITY_BOUNDS,
  maxZoom: 19,
  minZoom: 8,
  // The style has no glyph server: all text is drawn from local fonts (see style.js). This also
  // names the font for CJK characters should a style with the default font stack be used.
  localIdeographFontFamily: FONT_STACK.join(', '),
  attributionControl: { compact: true, customAttribution: '区界 天地图 · 区划 国家统计局 · 街道以下为示意数据' },
  dragRotate: false,
  pitchWithRotate: false,
  // The bearer token for case tiles (/tiles/cases/ only).
  transformRequest: caseTileRequest,
  // The controls' labels and tooltips (screen readers read them) in Chinese.
  locale: MAP_LOCALE_ZH,
});
map.touchZoomRotate.disableRotation();
// MapLibre logs every failed request as a console error unless an error listener is present. A
// case tile that was in flight when its user logged out answers 401 (the token is revoked): that
// is expected and harmless; anything else is still reported.
map.on('error', (e) => {
  if (e.sourceId === 'cases' && e.error?.status === 401) return;
  console.error(e.error ?? e);
});
map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');

const loading = $('#loading');
const loadError = $('#load-error');
const loader = new DataLoader(map, ({ pending, error }) => {
  loading.hidden = pending === 0;
  loadError.hidden = !error;
  // A network failure reads "Failed to fetch" in the browser's words: say it in Chinese.
  if (error) loadError.textContent = `数据加载失败:${errorZh(error)}`;
});

// --- layer switches -------------------------------------------------------------------------

const updateZoomHints = renderLayerList($('#layer-list'), [...GROUPS, ...CASE_GROUPS, POINT_STATUS_GROUP], (group, visible) => {
  // Case pins and the points' status also need a login: each combines the switch with the session.
  if (group.id === 'cases') return feed.setPinsWanted(visible);
  if (group.id === POINT_STATUS_GROUP.id) return pointStatus.setWanted(visible);
  for (const id of group.layers) if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
  if (group.id === 'grid' || group.id === 'frontage') loader.setEnabled(group.id, visible);
});
const showZoom = () => {
  const z = map.getZoom();
  $('#zoom').textContent = z.toFixed(1);
  updateZoomHints(z);
};
map.on('zoomend', showZoom);

// --- selection --------------------------------------------------------------------------------

const info = new InfoPanel($('#info'), loader.names, {
  onClose: () => map.getSource('selected').setData({ type: 'FeatureCollection', features: [] }),
});
const pointStatus = new PointStatusLayer(map, info);

// --- cases ------------------------------------------------------------------------------------

/** 门前三包 frontages with open cases are drawn red (feature state `open`, see style.js). */
function markOpenFrontages() {
  if (!map.getSource('frontage')) return;
  const target = loader.tiles ? { source: 'frontage', sourceLayer: 'frontage' } : { source: 'frontage' };
  map.removeFeatureState(target);
  const open = new Map();
  for (const c of feed.cases.values()) {
    if (c.frontage_code && !FINAL.includes(c.status)) open.set(c.frontage_code, (open.get(c.frontage_code) ?? 0) + 1);
  }
  for (const [id, n] of open) map.setFeatureState({ ...target, id }, { open: n });
}

const feed = new CaseFeed(map, () => {
  casework.onCases();
  home.onCases();
  markOpenFrontages();
});
loader.afterGridLoad(markOpenFrontages);
const casework = new CaseWork({
  map, info, feed, box: $('#case-box'), names: loader.names,
  onPick: () => { if (PHONE.matches) setPanel(false); },
});

/** The owner chain of a clicked point (GET /api/assign), as HTML for the panel. */
const ownerChain = (lngLat) => assign(lngLat.lng, lngLat.lat, { asOf: loader.at })
  .then(ownerChainHtml, () => ownerChainHtml(null));

map.on('click', async (e) => {
  if (casework.handleClick(e)) return;
  if (pointStatus.handleClick(e)) return;
  if (inspect.handleClick(e)) return;
  if (kaoping.handleClick(e)) {
    if (PHONE.matches) setPanel(true); // the scorecard is in the side panel
    return;
  }
  // A few pixels of tolerance so thin lines (frontages, alleys) and points are easy to hit on a phone.
  const r = PHONE.matches ? 10 : 5;
  const box = [[e.point.x - r, e.point.y - r], [e.point.x + r, e.point.y + r]];
  const layers = CLICKABLE.filter((id) => map.getLayer(id) && map.getLayoutProperty(id, 'visibility') !== 'none');
  const hits = map.queryRenderedFeatures(box, { layers });
  // Areas must contain the click itself, not just touch the tolerance box.
  const atPoint = new Set(map.queryRenderedFeatures(e.point, { layers }).map((f) => `${f.layer.id}:${f.properties.code}`));
  const usable = hits.filter((f) => f.layer.type !== 'fill' || atPoint.has(`${f.layer.id}:${f.properties.code}`));
  if (!usable.length) {
    // An empty spot still has owners: show its chain.
    map.getSource('selected').setData({ type: 'FeatureCollection', features: [] });
    info.show(null, ownerChain(e.lngLat));
    return;
  }
  usable.sort((a, b) => CLICKABLE.indexOf(a.layer.id) - CLICKABLE.indexOf(b.layer.id));
  const top = usable[0];
  // The owner chain comes from the assignment engine; the feature's own properties from the
  // GeoJSON export (tiles carry only a few of them).
  const owner = ownerChain(e.lngLat);
  const full = await loader.fullFeature(top, e.lngLat);
  map.getSource('selected').setData({ type: 'FeatureCollection', features: [full] });
  info.show({ source: top.source, properties: { ...top.properties, ...full.properties } }, owner);
  // On a phone the panel is a bottom sheet: bring the clicked place into the part left visible.
  if (PHONE.matches) {
    const visible = map.getCanvas().clientHeight - info.el.offsetHeight;
    if (e.point.y > visible - 24) map.panBy([0, e.point.y - visible / 2], { duration: 250 });
  }
});

map.on('mousemove', (e) => {
  if (PHONE.matches || casework.reporting) return; // report mode keeps its crosshair
  const layers = ['cases-pin', 'cases-cluster',
    ...CLICKABLE.filter((id) => id !== 'community-fill' && id !== 'street-fill' && id !== 'district-fill')];
  const hit = map.queryRenderedFeatures(e.point, { layers: layers.filter((id) => map.getLayer(id)) }).length > 0;
  map.getCanvas().style.cursor = hit ? 'pointer' : '';
});

// --- login: the inspector's own grids are tinted ----------------------------------------------

let myGrids = [];
const planner = new PlannerPanel(map, $('#panel'), {
  info, names: loader.names, onPick: () => { if (PHONE.matches) setPanel(false); },
  // A listed place opens as a click on it would: outlined, with its owner chain.
  showPlace: (feature, lngLat) => {
    map.getSource('selected').setData({ type: 'FeatureCollection', features: [feature] });
    info.show(feature, ownerChain(lngLat));
  },
});
const kaoping = new KaopingPanel(map, $('#panel'), {
  openCase: (id) => casework.showCase(id, { fly: true }),
  onPick: () => { if (PHONE.matches) setPanel(false); },
});
// The inspector's round (巡查): its card opens the side panel over the map on a phone.
const inspect = new InspectPanel(map, $('#panel'), { onPick: () => setPanel(true) });
function markMyGrids() {
  if (!map.getSource('grid')) return;
  map.removeFeatureState(loader.gridState());
  for (const code of myGrids) map.setFeatureState(loader.gridState(code), { mine: true });
}
loader.afterGridLoad(markMyGrids);
// Search for everyone, and the inspector's 我的网格 (flies to the patrolled grids on login).
const home = new HomePanel(map, $('#panel'), { info, feed, loader, onPick: () => { if (PHONE.matches) setPanel(false); } });
const login = new LoginBox($('#login-box'), (session) => {
  myGrids = session?.user?.grids ?? [];
  planner.setSession(session);
  kaoping.setSession(session);
  inspect.setSession(session);
  ready.then(() => home.setSession(session));
  if (map.loaded()) markMyGrids();
  document.body.classList.toggle('logged-in', !!session);
  $('#who').textContent = session ? `${session.user.display_name || session.user.username} · ${session.user.role_zh}` : '';
  casework.setSession(session);
  pointStatus.setSession(session);
});

// --- first steps: a newcomer is told what the map answers (hidden once used or dismissed) -----

const mapHint = $('#map-hint');
$('#map-hint-close').addEventListener('click', () => { mapHint.hidden = true; });
map.once('click', () => { mapHint.hidden = true; });

// --- panel open/close -----------------------------------------------------------------------

const panelToggle = $('#panel-toggle');
function setPanel(open) {
  document.body.classList.toggle('panel-open', open);
  panelToggle.setAttribute('aria-expanded', String(open));
  // The map container changes size on desktop; on phones the panel floats over the map.
  setTimeout(() => map.resize(), 220);
}
panelToggle.addEventListener('click', () => setPanel(!document.body.classList.contains('panel-open')));
$('#panel-close').addEventListener('click', () => setPanel(false));
setPanel(!PHONE.matches);

// --- date ---------------------------------------------------------------------------------------

$('#at').addEventListener('change', (e) => loader.setDate(e.target.value));

// --- start ----------------------------------------------------------------------------------------

let markReady;
const ready = new Promise((resolve) => { markReady = resolve; });

map.on('load', async () => {
  addCaseLayers(map);
  pointStatus.addLayers();
  home.addLayers();
  feed.refreshMap(); // cases may have arrived before the map's style did
  const bbox = await loader.loadStatic();
  if (bbox) map.fitBounds([[bbox[0], bbox[1]], [bbox[2], bbox[3]]], { padding: 16, animate: false });
  showZoom();
  await loader.loadViewport();
  markMyGrids();
  markReady();
});

login.init();
renderStatus($('#status-box'));

// For the browser test and for debugging in the console.
window.wangge = {
  map,
  loader,
  feed,
  casework,
  kaoping,
  planner,
  pointStatus,
  inspect,
  home,
  groups: GROUPS,
  ready,
  /** Resolves once no request is pending and the map has rendered everything. */
  async idle() {
    await ready;
    for (;;) {
      if (loader.pending === 0 && !loader.labelsPending && feed.pending === 0 && pointStatus.pending === 0 && home.pending === 0 && map.loaded() && map.areTilesLoaded() && !map.isMoving()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  },
};
