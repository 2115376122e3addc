// The public 红黑榜 page (/board, no login): the red (top N) and black (bottom N) lists of every
// level an administrator made public, from the latest published snapshot (GET /api/public/board),
// and a map of the streets coloured by their grade. Street outlines come from the public layer
// export (GET /api/layers/street), as on the map page; MapLibre is the vendored copy and the style
// has no text, so no glyph, sprite or tile server is ever asked. Inspectors and dispatchers are
// never shown by name (the API does not send their names or ids).

import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { escapeHtml } from './info.js';
import { bboxOf } from './labels.js';
import { gradeColour } from './kaoping.js';

const $ = (sel) => document.querySelector(sel);
const PEOPLE = new Set(['inspectors', 'dispatchers']);

async function getJson(path) {
  const res = await fetch(path);
  const body = await res.json().catch(() => null);
  return { status: res.status, body };
}

function listHtml(level, kind, rows, bands) {
  const title = kind === 'red' ? '红榜' : '黑榜';
  const body = rows.map((r) => `
    <tr data-key="${escapeHtml(r.key ?? '')}">
      <td>${r.rank}</td>
      <td>${PEOPLE.has(level) ? `<span class="muted">第 ${r.rank} 名(不公开姓名)</span>` : escapeHtml(r.name ?? r.key)}</td>
      <td class="num">${Number(r.score).toFixed(1)}</td>
      <td><span class="grade" style="background:${gradeColour(bands, r.grade)}">${escapeHtml(r.grade)}</span></td>
    </tr>`).join('');
  return `<div class="list ${kind}" data-list="${kind}">
    <h3>${title}</h3>
    <table><thead><tr><th>名次</th><th>单位</th><th class="num">得分</th><th>等级</th></tr></thead>
    <tbody>${body || '<tr><td colspan="4" class="muted">无</td></tr>'}</tbody></table></div>`;
}

function renderLists(board) {
  const date = new Date(board.published_at).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
  $('#board-period').textContent = `考评周期 ${board.period} · 第 ${board.version} 版 · 发布于 ${date}`;
  $('#board-lists').innerHTML = board.levels.map((l) => `
    <article class="level" data-level="${escapeHtml(l.level)}">
      <h2>${escapeHtml(l.label)}</h2>
      <div class="lists">${listHtml(l.level, 'red', l.red, board.grade_bands)}${listHtml(l.level, 'black', l.black, board.grade_bands)}</div>
    </article>`).join('') || '<p class="empty">没有公开的考评层级。</p>';
}

async function renderMap(board) {
  const streets = board.levels.find((l) => l.level === 'streets');
  const legend = $('#board-legend');
  if (!streets) {
    $('#board-pick').textContent = '街道未列入公开榜单,地图不着色。';
  }
  const grades = new Map((streets?.grades ?? []).map((g) => [g.key, g.grade]));
  const { body: fc } = await getJson('/api/layers/street');
  if (!fc?.features) {
    $('#board-pick').textContent = '无法读取街道边界。';
    return null;
  }
  const colour = ['match', ['get', 'code']];
  for (const [key, grade] of grades) colour.push(key, gradeColour(board.grade_bands, grade));
  colour.push('#d8dde2'); // not scored in the period
  const b = bboxOf(fc);
  const map = new maplibregl.Map({
    container: 'board-map',
    style: {
      version: 8,
      sources: { street: { type: 'geojson', data: fc, promoteId: 'code' } },
      layers: [
        { id: 'background', type: 'background', paint: { 'background-color': '#f2efe9' } },
        { id: 'street-grade', type: 'fill', source: 'street', paint: { 'fill-color': grades.size ? colour : '#d8dde2', 'fill-opacity': 0.75 } },
        { id: 'street-line', type: 'line', source: 'street', paint: { 'line-color': '#ffffff', 'line-width': 1.2 } },
      ],
    },
    bounds: [[b[0], b[1]], [b[2], b[3]]],
    fitBoundsOptions: { padding: 12 },
    attributionControl: { compact: true, customAttribution: '区界 天地图 · 区划 国家统计局' },
    dragRotate: false,
    pitchWithRotate: false,
  });
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  legend.innerHTML = board.grade_bands.map((g) => `<span><i style="background:${gradeColour(board.grade_bands, g.grade)}"></i>${escapeHtml(g.grade)} 级(≥ ${g.min} 分)</span>`).join('')
    + '<span><i style="background:#d8dde2"></i>本期无考评</span>';
  map.on('click', (e) => {
    const f = map.queryRenderedFeatures(e.point, { layers: ['street-grade'] })[0];
    if (!f) return;
    const g = grades.get(f.properties.code);
    $('#board-pick').textContent = `${f.properties.name}:${g ? `${g} 级` : '本期无考评'}`;
  });
  map.on('mousemove', (e) => {
    map.getCanvas().style.cursor = map.queryRenderedFeatures(e.point, { layers: ['street-grade'] }).length ? 'pointer' : '';
  });
  await new Promise((r) => (map.loaded() ? r() : map.once('load', r)));
  return map;
}

async function main() {
  const { status, body } = await getJson('/api/public/board');
  if (status === 404) {
    $('#board-period').textContent = '尚未发布';
    $('#board-lists').innerHTML = '<p class="empty" data-state="unpublished">尚未发布考评结果。考评结果经管理员发布后在此公布。</p>';
    $('.board-map-card').hidden = true;
    return { published: false };
  }
  if (!body?.levels) {
    $('#board-period').textContent = '无法读取红黑榜,请稍后再试。';
    return { published: false, error: true };
  }
  renderLists(body);
  const map = await renderMap(body);
  return { published: true, board: body, map };
}

// For the browser test: resolves once the lists and the map are drawn.
window.wanggeBoard = { ready: main() };
