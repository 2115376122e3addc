// The map style, built entirely from wangge's own layers: no online tiles, sprites or glyphs.
//
// Labels: the style has no `glyphs` URL on purpose. Without one, MapLibre draws every glyph it
// needs (CJK and Latin digits alike) in the browser with TinySDF from the fonts installed on the
// device, using `text-font` below as a CSS font-family list. Nothing is fetched, so labels work
// offline; a device without any of the listed fonts falls back to its default sans-serif.

export const FONT_STACK = [
  'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'PingFang SC',
  'Microsoft YaHei', 'WenQuanYi Micro Hei',
];

// Zoom levels from which the viewport layers are requested by bounding box.
export const GRID_MIN_ZOOM = 13;
export const FRONTAGE_MIN_ZOOM = 15;

export const COLORS = {
  land: '#f2f1ec',
  water: '#a8cbe8',
  building: '#dcd6cc',
  roadMain: '#f5c15f',
  roadMainCasing: '#c9963a',
  roadSecondary: '#ffffff',
  roadCasing: '#c4c4c4',
  railway: '#555555',
  district: '#7a2e8e',
  street: '#2f63b0',
  community: '#2f8a5f',
  // Labels need 4.5:1 against the land colour (the line colour gives 3.8:1).
  communityLabel: '#1d6040',
  // 村委会 (rural committees) pale green, far from the red of 城中村 (urban villages).
  village: '#cfe2bd',
  grid: '#d9467a',
  urbanVillage: '#c0392b',
  railwayLand: '#5d6d7e',
  backAlley: '#a0522d',
  highlight: '#00b3ff',
  openProblem: '#ff1744',
};

/** 门前三包 frontages: shop type → [中文, colour]. */
export const SHOP_TYPES = {
  restaurant: ['餐饮', '#e4572e'],
  retail: ['零售商铺', '#2e86ab'],
  market_stall: ['农贸市场摊位', '#f0a202'],
  office: ['机关/办公', '#7d5ba6'],
  hotel: ['宾馆酒店', '#c2185b'],
  auto_repair: ['汽车维修', '#6d6d6d'],
  hospital: ['医院', '#00a19a'],
  school: ['学校', '#3a7d44'],
};
const SHOP_OTHER = '#999999';

/** 测评点位 (civilised-city inspection sites): site type → [中文, colour]. */
export const SITE_TYPES = {
  market: ['农贸市场', '#f0a202'],
  old_compound: ['老旧小区', '#8d6e63'],
  school: ['学校周边', '#3a7d44'],
  hospital: ['医院周边', '#00a19a'],
  back_alley: ['背街小巷', COLORS.backAlley],
  main_road: ['主次干道', '#e4572e'],
};

const matchBy = (prop, table, fallback) => [
  'match', Array.isArray(prop) ? prop : ['get', prop],
  ...Object.entries(table).flatMap(([k, [, color]]) => [k, color]),
  fallback,
];

const text = (field, size, extra = {}) => ({
  'text-field': ['get', field],
  'text-font': FONT_STACK,
  'text-size': size,
  'text-max-width': 8,
  ...extra,
});

const halo = (color, width = 1.5) => ({
  'text-color': color,
  'text-halo-color': 'rgba(255,255,255,0.92)',
  'text-halo-width': width,
});

// Road widths in metres, as the demo city's frontages assume them (geodata/README.md: frontages
// sit at the road's half-width from the centre line: main 20 m, secondary 12 m, alley 3 m).
const ROAD_M = { main: 40, secondary: 24, alley: 6 };
// Pixels per metre at zoom z near Zhengzhou (latitude ~34.75°, 512 px tiles): 2^z / 64340.
const pxPerMetre = (z) => 2 ** z / 64340;
/**
 * Line width that is true to scale from zoom 14 (so frontages line up with the road edge) and
 * at least `minPx` (+ `extra`, for casings) when zoomed out.
 */
function roadWidth(metres, fromZoom, minPx, extra = 0) {
  const at = (z) => Math.max(minPx, metres * pxPerMetre(z)) + extra;
  // One zoom level below `fromZoom` the line is half as wide, so the city overview stays light.
  return ['interpolate', ['exponential', 2], ['zoom'],
    fromZoom - 1, (minPx + extra) / 2, fromZoom, minPx + extra, 14, at(14), 19, at(19)];
}

const EMPTY = { type: 'FeatureCollection', features: [] };
const geojson = (extra = {}) => ({ type: 'geojson', data: EMPTY, ...extra });

/**
 * The big layers wangge serves as Mapbox Vector Tiles (GET /tiles/{layer}/{z}/{x}/{y}.mvt, zoom
 * 12–18 for grids, 14–18 for frontages; MapLibre overzooms beyond 18). Tiles hold the CURRENT
 * version only, so a date in the past switches these sources back to GeoJSON by bounding box
 * (data.js). Streets and communities stay GeoJSON: they are small, loaded whole once, and the
 * page needs them whole anyway (one label per polygon, the code → name index).
 */
export const TILED = { grid: { minzoom: 12 }, frontage: { minzoom: 14 } };

/** Source definition of a big layer: vector tiles (`tiles` true) or GeoJSON filled by data.js. */
export function bigSource(name, tiles) {
  if (tiles) {
    // Absolute URL: tiles are fetched from MapLibre's worker, where a relative URL has no page
    // to be relative to.
    const origin = globalThis.location?.origin ?? '';
    return {
      type: 'vector', tiles: [`${origin}/tiles/${name}/{z}/{x}/{y}.mvt`],
      minzoom: TILED[name].minzoom, maxzoom: 18, promoteId: 'code',
    };
  }
  // Keep full precision for small polygons: grid and frontage geometry is metre-scale.
  return geojson({ tolerance: 0.2, promoteId: 'code' });
}

/** The 门前三包 shop type: `shop_type` in tiles, `kind` in the GeoJSON export. */
export const SHOP_TYPE_EXPR = ['coalesce', ['get', 'shop_type'], ['get', 'kind']];

/** Source ids; data is filled in by data.js. */
export const SOURCES = [
  'water', 'building', 'road', 'railway',
  'district', 'street', 'community', 'zone', 'labels',
  'grid', 'grid-label', 'frontage', 'selected',
];

/**
 * Toggleable groups of style layers, in panel order. `legend` entries are drawn by the panel:
 * kind is fill | line | dash | circle.
 */
export const GROUPS = [
  {
    id: 'basemap', title: '底图(道路、铁路)',
    layers: ['water', 'building', 'road-alley', 'road-secondary-casing', 'road-secondary',
      'road-main-casing', 'road-main', 'railway-base', 'railway-dash', 'station', 'road-label', 'station-label'],
    legend: [
      { label: '主干道', kind: 'line', color: COLORS.roadMain, width: 5 },
      { label: '次干道/支路', kind: 'line', color: '#ffffff', border: COLORS.roadCasing, width: 4 },
      { label: '铁路', kind: 'rail' },
    ],
  },
  {
    id: 'district', title: '区界', layers: ['district-line', 'district-label'],
    legend: [{ label: '区界', kind: 'line', color: COLORS.district, width: 3 }],
  },
  {
    id: 'street', title: '街道/镇', layers: ['street-line', 'street-label'],
    legend: [{ label: '街道界', kind: 'dash', color: COLORS.street }],
  },
  {
    id: 'community', title: '社区/村', layers: ['community-fill', 'community-line', 'community-label'],
    legend: [
      { label: '社区居委会', kind: 'fill', color: 'transparent', border: COLORS.community },
      { label: '村委会', kind: 'fill', color: COLORS.village, border: COLORS.community },
    ],
  },
  {
    id: 'grid', title: '单元网格', layers: ['grid-fill', 'grid-line', 'grid-label'],
    minzoom: GRID_MIN_ZOOM,
    legend: [
      { label: '单元网格(约一万平方米)', kind: 'fill', color: 'transparent', border: COLORS.grid },
      // Drawn by home.js (its own outline at every zoom) and by `mine` on grid-fill below.
      { label: '我的责任网格(登录后)', kind: 'fill', color: 'rgba(0,179,255,0.25)', border: COLORS.highlight },
    ],
  },
  {
    id: 'frontage', title: '门前三包责任段', layers: ['frontage-line'],
    minzoom: FRONTAGE_MIN_ZOOM,
    legend: [
      ...Object.values(SHOP_TYPES).map(([label, color]) => ({ label, kind: 'line', color, width: 4 })),
      { label: '其他', kind: 'line', color: SHOP_OTHER, width: 4 },
      { label: '有未结案件(登录后)', kind: 'line', color: '#ff1744', width: 6 },
    ],
  },
  {
    id: 'urban_village', title: '城中村', layers: ['zone-urban-village-fill', 'zone-urban-village-line'],
    legend: [{ label: '城中村范围', kind: 'fill', color: 'rgba(192,57,43,0.18)', border: COLORS.urbanVillage }],
  },
  {
    id: 'railway_land', title: '铁路沿线', layers: ['zone-railway-land-fill', 'zone-railway-land-line'],
    legend: [{ label: '铁路用地/沿线管控带', kind: 'fill', color: 'rgba(93,109,126,0.25)', border: COLORS.railwayLand }],
  },
  {
    id: 'back_alley', title: '背街小巷', layers: ['zone-back-alley'],
    legend: [{ label: '背街小巷', kind: 'line', color: COLORS.backAlley, width: 4 }],
  },
  {
    id: 'inspection_site', title: '测评点位', layers: ['zone-inspection-site', 'zone-inspection-site-label'],
    legend: Object.values(SITE_TYPES).map(([label, color]) => ({ label, kind: 'circle', color })),
  },
];

/**
 * Layers a click can select, in order of preference: points and lines first, then areas from the
 * smallest (the unit grid) to the largest, so a click inside an urban village still selects the
 * grid when grids are shown (the village is listed in the panel's 所在位置).
 */
export const CLICKABLE = [
  'zone-inspection-site', 'frontage-line', 'zone-back-alley', 'station',
  'grid-fill', 'zone-urban-village-fill', 'zone-railway-land-fill', 'community-fill',
  'street-fill', 'district-fill',
];

/**
 * The whole style. `tiles`: the grid and frontage layers come from vector tiles (today's
 * layers) rather than GeoJSON (a date in the past).
 */
export function buildStyle({ tiles = true } = {}) {
  const sources = Object.fromEntries(SOURCES.map((id) => [id, geojson()]));
  for (const name of Object.keys(TILED)) sources[name] = bigSource(name, tiles);
  const zoneKind = (k) => ['==', ['get', 'kind'], k];
  const zoneFilter = (k, geom) => ['all', zoneKind(k), ['==', ['geometry-type'], geom]];
  const lineWidth = (stops) => ['interpolate', ['exponential', 1.6], ['zoom'], ...stops];

  const layers = [
    { id: 'background', type: 'background', paint: { 'background-color': COLORS.land } },
    { id: 'water', type: 'fill', source: 'water', paint: { 'fill-color': COLORS.water } },
    { id: 'building', type: 'fill', source: 'building', minzoom: 14, paint: { 'fill-color': COLORS.building } },

    // Area fills: invisible (or faint) but clickable.
    { id: 'district-fill', type: 'fill', source: 'district', paint: { 'fill-color': '#ffffff', 'fill-opacity': 0 } },
    { id: 'street-fill', type: 'fill', source: 'street', paint: { 'fill-color': '#ffffff', 'fill-opacity': 0 } },
    {
      id: 'community-fill', type: 'fill', source: 'community',
      paint: {
        'fill-color': ['case', ['==', ['get', 'kind'], 'village'], COLORS.village, '#ffffff'],
        'fill-opacity': ['case', ['==', ['get', 'kind'], 'village'], 0.35, 0],
      },
    },
    {
      id: 'zone-railway-land-fill', type: 'fill', source: 'zone', filter: zoneFilter('railway_land', 'Polygon'),
      paint: { 'fill-color': COLORS.railwayLand, 'fill-opacity': 0.22 },
    },
    {
      id: 'zone-urban-village-fill', type: 'fill', source: 'zone', filter: zoneFilter('urban_village', 'Polygon'),
      paint: { 'fill-color': COLORS.urbanVillage, 'fill-opacity': 0.16 },
    },
    {
      id: 'grid-fill', type: 'fill', source: 'grid', minzoom: GRID_MIN_ZOOM,
      paint: {
        // "mine" is set by the page for the logged-in inspector's patrol grids.
        'fill-color': COLORS.highlight,
        'fill-opacity': ['case', ['boolean', ['feature-state', 'mine'], false], 0.25, 0],
      },
    },

    // Roads by class, main roads widest.
    {
      id: 'road-alley', type: 'line', source: 'road', minzoom: 12, filter: ['==', ['get', 'class'], 'alley'],
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#ffffff', 'line-width': roadWidth(ROAD_M.alley, 12, 0.5) },
    },
    {
      id: 'road-secondary-casing', type: 'line', source: 'road', minzoom: 11, filter: ['==', ['get', 'class'], 'secondary'],
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': COLORS.roadCasing, 'line-width': roadWidth(ROAD_M.secondary, 10, 1.6, 2) },
    },
    {
      id: 'road-secondary', type: 'line', source: 'road', filter: ['==', ['get', 'class'], 'secondary'],
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': COLORS.roadSecondary, 'line-width': roadWidth(ROAD_M.secondary, 10, 0.8) },
    },
    {
      id: 'road-main-casing', type: 'line', source: 'road', minzoom: 11, filter: ['==', ['get', 'class'], 'main'],
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': COLORS.roadMainCasing, 'line-width': roadWidth(ROAD_M.main, 10, 2.6, 2) },
    },
    {
      id: 'road-main', type: 'line', source: 'road', filter: ['==', ['get', 'class'], 'main'],
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': COLORS.roadMain, 'line-width': roadWidth(ROAD_M.main, 10, 1.6) },
    },

    // Railway: dark line with a white dash on top, the classic map symbol.
    {
      id: 'railway-base', type: 'line', source: 'railway', filter: ['==', ['geometry-type'], 'LineString'],
      paint: { 'line-color': COLORS.railway, 'line-width': lineWidth([10, 3, 18, 8]) },
    },
    {
      id: 'railway-dash', type: 'line', source: 'railway', filter: ['==', ['geometry-type'], 'LineString'],
      paint: { 'line-color': '#ffffff', 'line-width': lineWidth([10, 1.6, 18, 5]), 'line-dasharray': [3, 3] },
    },

    // Jurisdiction outlines.
    {
      id: 'grid-line', type: 'line', source: 'grid', minzoom: GRID_MIN_ZOOM,
      paint: { 'line-color': COLORS.grid, 'line-width': ['interpolate', ['linear'], ['zoom'], 13, 0.4, 17, 1.4], 'line-opacity': 0.75 },
    },
    {
      id: 'community-line', type: 'line', source: 'community', minzoom: 10,
      paint: { 'line-color': COLORS.community, 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 0.5, 16, 2] },
    },
    {
      id: 'street-line', type: 'line', source: 'street',
      paint: {
        'line-color': COLORS.street, 'line-dasharray': [4, 2],
        'line-width': ['interpolate', ['linear'], ['zoom'], 9, 1, 16, 3],
      },
    },
    {
      id: 'district-line', type: 'line', source: 'district', layout: { 'line-join': 'round' },
      paint: { 'line-color': COLORS.district, 'line-width': ['interpolate', ['linear'], ['zoom'], 9, 2.5, 16, 6], 'line-opacity': 0.8 },
    },

    // Thematic zones.
    {
      id: 'zone-railway-land-line', type: 'line', source: 'zone', filter: zoneFilter('railway_land', 'Polygon'),
      paint: { 'line-color': COLORS.railwayLand, 'line-width': 1, 'line-dasharray': [2, 1] },
    },
    {
      id: 'zone-urban-village-line', type: 'line', source: 'zone', filter: zoneFilter('urban_village', 'Polygon'),
      paint: { 'line-color': COLORS.urbanVillage, 'line-width': 1.5, 'line-dasharray': [3, 1.5] },
    },
    {
      id: 'zone-back-alley', type: 'line', source: 'zone', filter: zoneFilter('back_alley', 'LineString'),
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': COLORS.backAlley, 'line-width': ['interpolate', ['linear'], ['zoom'], 11, 1.5, 17, 5] },
    },
    {
      id: 'frontage-line', type: 'line', source: 'frontage', minzoom: FRONTAGE_MIN_ZOOM,
      layout: { 'line-cap': 'butt' },
      paint: {
        // "open" (set by the page from the cases it lists): open problems on this frontage.
        'line-color': ['case', ['>', ['coalesce', ['feature-state', 'open'], 0], 0], COLORS.openProblem,
          matchBy(SHOP_TYPE_EXPR, SHOP_TYPES, SHOP_OTHER)],
        'line-width': ['interpolate', ['linear'], ['zoom'], 15,
          ['case', ['>', ['coalesce', ['feature-state', 'open'], 0], 0], 5, 2.5], 18,
          ['case', ['>', ['coalesce', ['feature-state', 'open'], 0], 0], 12, 8]],
      },
    },

    // The selected feature.
    {
      id: 'selected-fill', type: 'fill', source: 'selected', filter: ['==', ['geometry-type'], 'Polygon'],
      paint: { 'fill-color': COLORS.highlight, 'fill-opacity': 0.18 },
    },
    {
      id: 'selected-line', type: 'line', source: 'selected', filter: ['!=', ['geometry-type'], 'Point'],
      paint: { 'line-color': COLORS.highlight, 'line-width': 3.5 },
    },

    // Points.
    {
      id: 'station', type: 'circle', source: 'railway', filter: ['==', ['geometry-type'], 'Point'],
      paint: { 'circle-radius': 6, 'circle-color': '#ffffff', 'circle-stroke-color': COLORS.railway, 'circle-stroke-width': 3 },
    },
    {
      id: 'zone-inspection-site', type: 'circle', source: 'zone', filter: zoneFilter('inspection_site', 'Point'),
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 9, 2, 12, 4, 16, 8],
        'circle-color': matchBy('site_type', SITE_TYPES, '#555555'),
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': ['interpolate', ['linear'], ['zoom'], 9, 0.5, 12, 1.5],
      },
    },
    {
      id: 'selected-point', type: 'circle', source: 'selected', filter: ['==', ['geometry-type'], 'Point'],
      paint: { 'circle-radius': 11, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': COLORS.highlight, 'circle-stroke-width': 3 },
    },

    // Labels, least important first (later layers win label collisions).
    {
      id: 'road-label', type: 'symbol', source: 'road', minzoom: 14, filter: ['!=', ['get', 'class'], 'alley'],
      layout: { ...text('name', 12), 'symbol-placement': 'line', 'text-rotation-alignment': 'map', 'symbol-spacing': 350 },
      paint: halo('#5a4a2a'),
    },
    {
      id: 'grid-label', type: 'symbol', source: 'grid-label', minzoom: 16,
      layout: text('code', ['interpolate', ['linear'], ['zoom'], 16, 9, 18, 12], { 'text-max-width': 20 }),
      paint: halo('#a3204f', 1.2),
    },
    {
      id: 'zone-inspection-site-label', type: 'symbol', source: 'zone', minzoom: 14,
      filter: zoneFilter('inspection_site', 'Point'),
      layout: { ...text('name', 11), 'text-offset': [0, 1.1], 'text-anchor': 'top', 'text-optional': true },
      paint: halo('#333333'),
    },
    {
      id: 'community-label', type: 'symbol', source: 'labels', minzoom: 12.5, filter: ['==', ['get', 'layer'], 'community'],
      layout: text('short', ['interpolate', ['linear'], ['zoom'], 12.5, 11, 16, 14]),
      paint: halo(COLORS.communityLabel),
    },
    {
      id: 'street-label', type: 'symbol', source: 'labels', minzoom: 9, maxzoom: 16, filter: ['==', ['get', 'layer'], 'street'],
      layout: text('name', ['interpolate', ['linear'], ['zoom'], 10.5, 12, 14, 16]),
      paint: halo(COLORS.street, 2),
    },
    {
      id: 'station-label', type: 'symbol', source: 'railway', minzoom: 11, filter: ['==', ['geometry-type'], 'Point'],
      layout: { ...text('name', 13), 'text-offset': [0, 1.2], 'text-anchor': 'top' },
      paint: halo('#222222', 2),
    },
    {
      id: 'district-label', type: 'symbol', source: 'labels', maxzoom: 14, filter: ['==', ['get', 'layer'], 'district'],
      layout: text('name', ['interpolate', ['linear'], ['zoom'], 9, 16, 13, 22], { 'text-letter-spacing': 0.2 }),
      paint: halo(COLORS.district, 2.5),
    },
  ];
  // Vector sources name the layer inside the tile too.
  if (tiles) for (const l of layers) if (TILED[l.source]) l['source-layer'] = l.source;
  return { version: 8, name: 'wangge', sources, layers };
}
