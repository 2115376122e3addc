// The 创文办's readiness dashboard (/readiness.html, any logged-in staff, with the map page's
// session): the countdown to the assessment date, the share of points 达标 by type and by street,
// the points with overdue findings, the finding totals (GET /api/inspections/readiness) and a small
// map of the points coloured by status (GET /api/inspections/points). Street outlines come from the
// public layer export, MapLibre is the vendored copy and the style has no text, so nothing but this
// server is ever asked.

import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { request } from './api.js';
import { escapeHtml } from './info.js';
import { bboxOf } from './labels.js';
import { POINT_STATUS, STATUS_COLOUR, pointsGeoJson } from './pointstatus.js';

const $ = (sel) => document.querySelector(sel);
const pct = (r) => (r == null ? '—' : `${(r * 100).toFixed(1)}%`);
const ORDER = ['passed', 'rectifying', 'failing', 'not_inspected'];

function countdownHtml(r) {
  if (r.days_left == null) {
    return `<div class="label" data-state="unset">尚未设置测评日期</div>
      <p class="muted small">管理员在测评细则中填写 <code>assessment_date</code>(如 "2026-12-15")后,此处显示倒计时:
      地图页登录后由 <code>PUT /api/inspections/checklists</code> 保存新版本,见 docs/inspections.md。</p>`;
  }
  const d = r.days_left;
  const head = d > 0 ? `<div class="label">距测评</div><div class="days" data-field="days-left">${d}</div><div class="label">天</div>`
    : d === 0 ? '<div class="days" data-field="days-left">今天</div><div class="label">实地测评</div>'
      : `<div class="label">测评已过</div><div class="days" data-field="days-left">${-d}</div><div class="label">天</div>`;
  return `${head}<p class="muted small">测评日期 ${escapeHtml(r.assessment_date)} · 已检查点位达标率 ${pct(r.total.pass_rate)}</p>`;
}

function totalsHtml(f) {
  return [
    ['发现', f.found, 'found'], ['整改中', f.open, 'open'], ['已整改', f.rectified, 'rectified'],
    ['已销号', f.passed, 'passed'], ['超期', f.overdue, 'overdue'], ['整改率', pct(f.rectification_rate), 'rate'],
  ].map(([k, v, id]) => `<div><dt>${k}</dt><dd data-total="${id}">${v}</dd></div>`).join('');
}

/** A table of shares: rows [key, label, share], with a stacked bar of the four statuses. */
function sharesHtml(rows, what) {
  const body = rows.map(([key, label, s]) => {
    const counts = { passed: s.passed, rectifying: s.rectifying, failing: s.failing, not_inspected: s.points - s.inspected };
    const bar = ORDER.filter((k) => counts[k] > 0)
      .map((k) => `<i style="width:${(counts[k] / s.points) * 100}%;background:${POINT_STATUS[k][1]}" title="${POINT_STATUS[k][0]} ${counts[k]}"></i>`).join('');
    return `<tr data-key="${escapeHtml(key)}">
      <td>${escapeHtml(label)}</td>
      <td class="num" data-field="pass_rate">${pct(s.pass_rate)}</td>
      <td class="bar-cell"><div class="stack">${bar}</div></td>
      ${ORDER.map((k) => `<td class="num" data-field="${k}">${counts[k]}</td>`).join('')}
      <td class="num">${s.points}</td></tr>`;
  }).join('');
  return `<table class="shares"><thead><tr><th>${what}</th><th class="num">达标率</th><th class="bar-cell"></th>
    ${ORDER.map((k) => `<th class="num">${POINT_STATUS[k][0]}</th>`).join('')}<th class="num">点位</th></tr></thead>
    <tbody>${body || `<tr><td colspan="8" class="muted">无测评点位</td></tr>`}</tbody></table>`;
}

function overdueHtml(r) {
  if (!r.overdue_points.length) return '<p class="muted" data-state="none">没有超期未整改的问题。</p>';
  const rows = r.overdue_points.map((v) => {
    const unit = v.lead_unit ? (r.unit_names[v.lead_unit] ?? v.lead_unit) : '—';
    return `<tr data-point="${escapeHtml(v.code)}">
      <td><a href="/#point=${encodeURIComponent(v.code)}">${escapeHtml(v.name)}</a><br><small class="muted">${escapeHtml(v.point_type_name)} · ${escapeHtml(v.code)}</small></td>
      <td>${escapeHtml(v.street_name ?? '—')}</td>
      <td>${escapeHtml(unit)}</td>
      <td class="num overdue-n" data-field="overdue">${v.readiness.overdue}</td>
      <td class="num" data-field="open">${v.readiness.open}</td>
      <td>${escapeHtml(v.status_zh)}</td></tr>`;
  }).join('');
  return `<table class="overdue"><thead><tr><th>点位</th><th>街道</th><th>主责单位</th><th class="num">超期</th>
    <th class="num">整改中</th><th>状态</th></tr></thead><tbody>${rows}</tbody></table>`;
}

async function renderMap(points) {
  const fc = await request('/api/layers/street', { auth: false }).catch(() => null);
  const data = pointsGeoJson(points);
  const b = bboxOf(fc?.features?.length ? fc : data);
  const counts = Object.fromEntries(ORDER.map((k) => [k, points.filter((p) => p.readiness.status === k).length]));
  $('#ready-legend').innerHTML = ORDER.map((k) => `<span data-status="${k}"><i style="background:${POINT_STATUS[k][1]}"></i>${POINT_STATUS[k][0]} ${counts[k]}</span>`).join('');
  const map = new maplibregl.Map({
    container: 'ready-map',
    style: {
      version: 8,
      sources: {
        street: { type: 'geojson', data: fc ?? { type: 'FeatureCollection', features: [] } },
        points: { type: 'geojson', data, promoteId: 'code' },
      },
      layers: [
        { id: 'background', type: 'background', paint: { 'background-color': '#f2efe9' } },
        { id: 'street-fill', type: 'fill', source: 'street', paint: { 'fill-color': '#ffffff', 'fill-opacity': 0.6 } },
        { id: 'street-line', type: 'line', source: 'street', paint: { 'line-color': '#8a96a3', 'line-width': 1 } },
        {
          id: 'points', type: 'circle', source: 'points',
          paint: { 'circle-color': STATUS_COLOUR, 'circle-radius': 5, 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1 },
        },
      ],
    },
    bounds: [[b[0], b[1]], [b[2], b[3]]],
    fitBoundsOptions: { padding: 12 },
    attributionControl: { compact: true, customAttribution: '区界 天地图 · 点位为示意数据' },
    dragRotate: false,
    pitchWithRotate: false,
    // Printing needs the canvas as drawn.
    canvasContextAttributes: { preserveDrawingBuffer: true },
  });
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.on('click', (e) => {
    const f = map.queryRenderedFeatures([[e.point.x - 6, e.point.y - 6], [e.point.x + 6, e.point.y + 6]], { layers: ['points'] })[0];
    if (!f) return;
    const p = f.properties;
    $('#ready-pick').textContent = `${p.name}(${p.point_type_name}${p.street_name ? ` · ${p.street_name}` : ''}):${p.status_zh},整改中 ${p.open},超期 ${p.overdue}`;
  });
  map.on('mousemove', (e) => {
    map.getCanvas().style.cursor = map.queryRenderedFeatures(e.point, { layers: ['points'] }).length ? 'pointer' : '';
  });
  await new Promise((r) => (map.loaded() ? r() : map.once('load', r)));
  return map;
}

async function main() {
  $('#ready-print').addEventListener('click', () => window.print());
  let r; let points;
  try {
    [r, points] = await Promise.all([request('/api/inspections/readiness'), request('/api/inspections/points')]);
  } catch (e) {
    // Chinese for the reader, never the server's raw message.
    $('#ready-state').textContent = e.status === 401 ? '请先在地图页登录(任一工作人员账号均可查看)。' : '读取失败,请稍后重试。';
    $('#ready-state').dataset.state = e.status === 401 ? 'login' : 'error';
    return { error: e.status ?? true };
  }
  const typeNames = new Map(points.map((p) => [p.point_type, p.point_type_name]));
  const streetNames = new Map(points.map((p) => [p.street_code ?? '', p.street_name ?? '未定位']));
  const byRate = (a, b) => (b[2].pass_rate ?? -1) - (a[2].pass_rate ?? -1) || a[1].localeCompare(b[1], 'zh-CN');
  const countdown = $('#countdown');
  countdown.innerHTML = countdownHtml(r);
  countdown.classList.toggle('unset', r.days_left == null);
  $('#totals').innerHTML = totalsHtml(r.findings);
  $('#by-type').innerHTML = sharesHtml(Object.entries(r.by_type).map(([k, s]) => [k, typeNames.get(k) ?? k, s]).sort(byRate), '类型');
  $('#by-street').innerHTML = sharesHtml(Object.entries(r.by_street).map(([k, s]) => [k, streetNames.get(k) ?? (k || '未定位'), s]).sort(byRate), '街道');
  $('#overdue').innerHTML = overdueHtml(r);
  const t = r.total;
  $('#ready-state').textContent = `测评点位 ${t.points} 个,已检查 ${t.inspected} 个:达标 ${t.passed},整改中 ${t.rectifying},未达标 ${t.failing}。`
    + `数据截至 ${new Date().toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false })}。`;
  $('#ready').hidden = false;
  const map = await renderMap(points);
  document.body.dataset.ready = 'true';
  return { readiness: r, points, map };
}

// For the browser test: resolves once the tables and the map are drawn.
window.wanggeReadiness = { ready: main() };
