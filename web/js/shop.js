// A shop's public 门前三包 page (/shops/{code}, no login; the address its QR placard holds): the
// shop's duty and its strip on a small map, this month's rating, its latest problems and how
// they ended, from GET /api/public/shops/{code}. The API sends nothing about people, so this
// page cannot show any. MapLibre is the vendored copy; the style has no tiles and no text, so
// no tile, glyph or sprite server is ever asked.

import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { escapeHtml } from './info.js';

const $ = (sel) => document.querySelector(sel);
const LEVEL = { green: 'green', yellow: 'yellow', red: 'red' };

function code() {
  const parts = location.pathname.split('/').filter(Boolean);
  return decodeURIComponent(parts[parts.length - 1] ?? '');
}

function renderMap(strip) {
  const line = strip.line;
  if (!line.length) return;
  const xs = line.map((p) => p[0]);
  const ys = line.map((p) => p[1]);
  // About 40 m around the facade (WGS84 degrees at Zhengzhou's latitude).
  const pad = 0.0004;
  const map = new maplibregl.Map({
    container: 'shop-map',
    style: {
      version: 8,
      sources: { strip: { type: 'geojson', data: { type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: line } } } },
      layers: [
        { id: 'background', type: 'background', paint: { 'background-color': '#f2efe9' } },
        { id: 'strip-area', type: 'line', source: 'strip', paint: { 'line-color': '#f9a825', 'line-opacity': 0.45, 'line-width': 18 } },
        { id: 'strip-facade', type: 'line', source: 'strip', paint: { 'line-color': '#b3261e', 'line-width': 3 } },
      ],
    },
    bounds: [[Math.min(...xs) - pad, Math.min(...ys) - pad], [Math.max(...xs) + pad, Math.max(...ys) + pad]],
    attributionControl: false,
    interactive: false,
  });
  return map;
}

function render(s) {
  document.title = `${s.name} · 门前三包公示`;
  $('#shop-name').innerHTML = `${escapeHtml(s.name)} <small>门前三包公示</small>`;
  $('#shop-where').textContent = `${s.street_name ?? ''} · 责任区进深约 ${Math.round(s.strip.depth_m)} 米 · 编号 ${s.code}`;
  const badge = $('#shop-badge');
  badge.className = `badge ${LEVEL[s.rating.level] ?? ''}`;
  badge.textContent = s.rating.points != null ? `${s.rating.label} ${s.rating.points} / ${s.rating.max_points} 分` : s.rating.label;
  const f = s.figures;
  const rate = f.self_fix_rate == null ? '—' : `${Math.round(f.self_fix_rate * 100)}%`;
  $('#shop-figures').textContent = `${s.period}：问题 ${f.violations} 起,重复 ${f.repeats} 起,自行整改率 ${rate},提醒 ${f.escalations.reminders} / 警告 ${f.escalations.warnings} / 移交执法 ${f.escalations.enforcements}`;
  $('#shop-scheme').textContent = `评价办法：${s.scheme.name}`;
  $('#shop-duties').innerHTML = s.duties.map((d) => `<li><b>${escapeHtml(d.label)}</b> ${escapeHtml(d.keep)}</li>`).join('');
  $('#shop-problems').innerHTML = s.recent.map((p) => `<tr><td>${escapeHtml(p.reported_on)}</td><td>${escapeHtml(p.category)}</td><td>${escapeHtml(p.duty)}</td><td>${escapeHtml(p.outcome)}</td></tr>`).join('')
    || '<tr><td colspan="4" class="muted">暂无问题记录</td></tr>';
  const qr = $('#shop-qr');
  qr.href = `/api/public/shops/${encodeURIComponent(s.code)}/qr.svg`;
  renderMap(s.strip);
}

async function main() {
  const res = await fetch(`/api/public/shops/${encodeURIComponent(code())}`);
  const body = await res.json().catch(() => null);
  if (!res.ok || !body) {
    $('#shop-where').textContent = res.status === 404 ? '没有这家商户。' : '暂时无法读取，请稍后再试。';
    $('#shop-problems').innerHTML = '';
    return;
  }
  render(body);
}

main();
