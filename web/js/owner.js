// The owner chain (归属链) of a point, as the assignment engine answers it (GET /api/assign):
// grid → community → street → district, the 门前三包 frontages whose strip holds the point, the
// zones, the department for a category, the 属地兜底 owner, boundary candidates, and the reasons.

import { escapeHtml } from './info.js';
import { SHOP_TYPES, SITE_TYPES } from './style.js';

/** wangge's messages are "中文。English": the Chinese part, the whole text as a tooltip. */
export function zhPart(text) {
  const s = String(text ?? '');
  const i = s.indexOf('。');
  return i >= 0 && i < s.length - 1 ? s.slice(0, i + 1) : s;
}

const unitSpan = (code) => (code
  ? ` <span class="unit" data-unit="${escapeHtml(code)}"><span class="code">${escapeHtml(code)}</span></span>`
  : '');

const area = (tag, a) => (a
  ? `<li data-level="${tag[0]}"><span class="tag">${escapeHtml(tag[1])}</span> ${escapeHtml(a.name)} <span class="code">${escapeHtml(a.code)}</span>${a.unit_code ? `<br><small>责任单位${unitSpan(a.unit_code)}</small>` : ''}</li>`
  : '');

const metres = (m) => `${Math.round(m * 10) / 10} 米`;
const OWNER_LEVEL_ZH = { frontage: '门前三包责任单位', grid: '网格责任单位', community: '社区/村', street: '街道/镇' };

/** HTML of the chain; `a` is the /api/assign answer. */
export function ownerChainHtml(a) {
  if (!a) return '<p class="muted">无法查询归属。</p>';
  const items = [];
  if (a.status === 'unassigned') {
    const n = a.nearest;
    items.push(`<li class="warn">该点不在任何单元网格内${n ? `;最近网格 <span class="code">${escapeHtml(n.grid)}</span>,相距 ${metres(n.distance_m)}` : ''}。</li>`);
  }
  items.push(area(['grid', '单元网格'], a.grid), area(['community', '社区/村'], a.community),
    area(['street', '街道/镇'], a.street), area(['district', '区'], a.district));
  for (const f of a.frontages ?? []) {
    const kind = SHOP_TYPES[f.shop_type]?.[0] ?? f.shop_type ?? '';
    items.push(`<li data-level="frontage"><span class="tag">门前三包${f.rank > 1 ? ` #${f.rank}` : ''}</span> ${escapeHtml(f.name)}
      ${kind ? `<small>(${escapeHtml(kind)})</small>` : ''}<br><small>距责任段 ${metres(f.distance_m)} / 进深 ${metres(f.depth_m)} · 责任单位${unitSpan(f.unit_code)}</small></li>`);
  }
  const z = a.zones ?? {};
  const zone = (hit, label) => hit && items.push(`<li data-level="zone"><span class="tag">${label}</span> ${escapeHtml(hit.name)}${hit.distance_m > 0 ? ` <small>(${metres(hit.distance_m)})</small>` : ''}${hit.kind && SITE_TYPES[hit.kind] ? ` <small>${escapeHtml(SITE_TYPES[hit.kind][0])}</small>` : ''}${hit.unit_code ? `<br><small>责任单位${unitSpan(hit.unit_code)}</small>` : ''}</li>`);
  zone(z.urban_village, '城中村');
  zone(z.railway_land, '铁路用地');
  zone(z.back_alley, '背街小巷');
  zone(z.inspection_site, '测评点位');
  if (z.railway_distance_m != null) {
    items.push(`<li data-level="zone"><span class="tag">铁路沿线</span> 距铁路 ${metres(z.railway_distance_m)}${z.railway_within_m?.length ? `(${z.railway_within_m.map((w) => `${w} 米`).join('、')}管控带内)` : ''}</li>`);
  }
  if (a.department) items.push(area(['department', '主管部门'], a.department));
  const rail = z.railway_land?.unit_code;
  if (rail) {
    // On railway land the railway bureau acts (the dispatch rule railway_land); the territorial
    // owner only assists. One highlighted box says who acts, so the two never read as rivals.
    items.push(`<li data-level="owner" class="owner" data-owner="railway"><span class="tag">处置责任</span> 铁路部门${unitSpan(rail)}<br><small>铁路用地内的问题由铁路部门处置${a.owner ? `;属地${escapeHtml(OWNER_LEVEL_ZH[a.owner.level] ?? '')}${unitSpan(a.owner.unit_code)}配合` : ''}。</small></li>`);
  } else if (a.owner) {
    items.push(`<li data-level="owner" class="owner"><span class="tag">属地兜底</span> ${escapeHtml(OWNER_LEVEL_ZH[a.owner.level] ?? a.owner.level)}${unitSpan(a.owner.unit_code)}<br><small title="${escapeHtml(a.owner.reason)}">${escapeHtml(zhPart(a.owner.reason))}</small></li>`);
  }
  const notes = [];
  if (a.on_boundary) {
    notes.push(`<p class="warn" data-field="on-boundary">该点位于网格边界上,候选网格:${(a.boundary_grids ?? []).map((c) => `<span class="code">${escapeHtml(c)}</span>`).join('、')}(按规则取编码最小者)。</p>`);
  }
  if (a.ambiguous) notes.push('<p class="warn">两个门前三包责任段距离几乎相同,责任单位需现场确认。</p>');
  const reasons = (a.reasons ?? []).map((r) => `<li title="${escapeHtml(r)}">${escapeHtml(zhPart(r))}</li>`).join('');
  return `<ol class="chain owner-chain">${items.join('')}</ol>${notes.join('')}
    ${reasons ? `<details class="reasons"><summary>判定依据(${a.reasons.length})</summary><ul>${reasons}</ul></details>` : ''}
    <p class="muted small">数据版本 ${escapeHtml(a.version)}</p>`;
}
