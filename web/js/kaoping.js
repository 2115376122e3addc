// 考评 panel: the rankings of a period per level with the change, the grade, the 每日晚例会 list
// and the chronic units; a sparkline of every unit's score over the last twelve periods; streets
// and communities coloured on the map by score or by grade; and a unit's scorecard, every
// indicator with its numerator and denominator drilling down to the cases behind it (each opens
// its timeline in the case panel). Self-contained like planner.js: it adds its own card to the
// side panel and its own layers to the map; app.js creates it, passes the session and gives it
// the map's clicks. Shown to the roles that may read /api/assessment (planners, administrators).

import * as api from './api.js';
import { escapeHtml } from './info.js';

const ROLES = new Set(['planner', 'admin']);
// 单元网格 are left to the API and the workbook: thousands of rows are no table for a side panel.
const LEVELS = [
  ['districts', '区'], ['streets', '街道'], ['communities', '社区'], ['departments', '专业部门'],
  ['inspectors', '监督员'], ['dispatchers', '指挥中心'],
];
const LEVEL_ZH = Object.fromEntries(LEVELS);
/** Periods of the week and month pickers, and of the sparklines. */
const WEEKS_BACK = 26;
const MONTHS_BACK = 12;
const TREND_PERIODS = 12;
/** Streets below this zoom, communities from it. */
const COMMUNITY_ZOOM = 12.5;
export const KAOPING_LAYERS = ['kaoping-street', 'kaoping-community'];

/**
 * Every indicator: its name, and what its numerator's cases (`cases`) and the rest of the
 * denominator (`other_cases`) are, for the drill-down.
 */
export const INDICATORS = {
  case_count_score: ['立案数分值', '计入案件', ''],
  closure_rate: ['结案率', '已结案', '未结案'],
  on_time_rate: ['按期结案率', '按期', '未按期'],
  rework_free: ['返工率分值(1 − 返工率)', '无返工', '返工'],
  valid_report_rate: ['有效上报率', '有效', '未立案'],
  miss_free: ['漏报率分值(1 − 漏报率)', '自报有效', '漏报(公众先报)'],
  on_time_verify_rate: ['按时核实率', '按时', '超时'],
  on_time_check_rate: ['按时核查率', '按时', '超时'],
  on_time_register_rate: ['按时立案率', '按时', '超时'],
  on_time_dispatch_rate: ['按时派遣率', '按时', '超时'],
  accurate_dispatch_rate: ['准确派遣率', '准确', '被回退'],
  dispatch_count_score: ['派遣数分值', '派遣案件', ''],
};
const COUNTS_ZH = {
  due: '应结案', closed: '结案', reworks: '返工', overdue_open: '超期未结', extensions: '延期', send_backs: '回退',
};
const REASON_ZH = { late: '超期', rework: '返工' };

// Score colours: red under the pass line, through yellow, to green at 100.
const SCORE_STOPS = [[0, '#a50026'], [40, '#d73027'], [60, '#fdae61'], [75, '#d9ef8b'], [90, '#66bd63'], [100, '#1a9850']];
// Grade colours, best first (A … E and any further band of a city's scheme: the last is reddest).
const GRADE_COLOURS = ['#1a9850', '#91cf60', '#fee08b', '#fc8d59', '#d73027', '#a50026'];

export function gradeColour(bands, grade) {
  const i = bands.findIndex((b) => b.grade === grade);
  if (i < 0) return '#999999';
  return GRADE_COLOURS[Math.min(i, GRADE_COLOURS.length - 1)];
}

function scoreColour(score) {
  for (let i = SCORE_STOPS.length - 1; i >= 0; i--) if (score >= SCORE_STOPS[i][0]) return SCORE_STOPS[i][1];
  return SCORE_STOPS[0][1];
}

// --- periods (Beijing time, as the server reads them) ----------------------------------------

/** Today in Beijing as a UTC-midnight Date (only its calendar date is used). */
function beijingToday() {
  const s = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai' }).format(new Date());
  return new Date(`${s}T00:00:00Z`);
}
const ymd = (d) => d.toISOString().slice(0, 10);
const addDays = (d, n) => new Date(d.getTime() + n * 86_400_000);

/** The ISO week label (2026-W48) of a UTC-midnight date, and the Monday of that week. */
export function isoWeek(d) {
  const monday = addDays(d, -((d.getUTCDay() + 6) % 7));
  const thursday = addDays(monday, 3);
  const year = thursday.getUTCFullYear();
  const jan1 = new Date(Date.UTC(year, 0, 1));
  const week = Math.floor((thursday - jan1) / 86_400_000 / 7) + 1;
  return { label: `${year}-W${String(week).padStart(2, '0')}`, monday };
}

/** The picker's choices, newest first: [value, text]. */
export function periodChoices(kind, today = beijingToday()) {
  const out = [];
  if (kind === 'month') {
    for (let i = 0; i < MONTHS_BACK; i++) {
      const d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - i, 1));
      const v = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
      out.push([v, `${d.getUTCFullYear()} 年 ${d.getUTCMonth() + 1} 月${i === 0 ? '(本月)' : ''}`]);
    }
    return out;
  }
  for (let i = 0; i < WEEKS_BACK; i++) {
    const { label, monday } = isoWeek(addDays(today, -7 * i));
    const md = (d) => ymd(d).slice(5).replace('-', '/');
    out.push([label, `${label}(${md(monday)}–${md(addDays(monday, 6))})${i === 0 ? ' 本周' : ''}`]);
  }
  return out;
}

// --- small renderers --------------------------------------------------------------------------

const pct = (v) => `${(v * 100).toFixed(1).replace(/\.0$/, '')}%`;
const num = (v) => (v == null ? '–' : Number(v).toFixed(2).replace(/\.?0+$/, ''));

/** An inline SVG sparkline of scores (null: not scored), with the pass line dashed. */
export function sparkline(scores, passLine, { width = 64, height = 18 } = {}) {
  const n = scores.length;
  if (!n || scores.every((s) => s == null)) return '<span class="muted small">–</span>';
  const x = (i) => (n === 1 ? width / 2 : (i * (width - 4)) / (n - 1) + 2);
  const y = (s) => height - 2 - (Math.max(0, Math.min(100, s)) / 100) * (height - 4);
  const runs = [];
  let run = [];
  scores.forEach((s, i) => {
    if (s == null) {
      if (run.length) runs.push(run);
      run = [];
    } else run.push(`${x(i).toFixed(1)},${y(s).toFixed(1)}`);
  });
  if (run.length) runs.push(run);
  const last = scores.length - 1 - [...scores].reverse().findIndex((s) => s != null);
  const title = scores.map((s) => (s == null ? '–' : num(s))).join(' → ');
  return `<svg class="spark" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="近 ${n} 期得分 ${escapeHtml(title)}">
    <title>${escapeHtml(title)}</title>
    <line x1="0" x2="${width}" y1="${y(passLine).toFixed(1)}" y2="${y(passLine).toFixed(1)}" class="pass"/>
    ${runs.map((r) => (r.length > 1 ? `<polyline points="${r.join(' ')}"/>` : '')).join('')}
    <circle cx="${x(last).toFixed(1)}" cy="${y(scores[last]).toFixed(1)}" r="2" fill="${scoreColour(scores[last])}"/>
  </svg>`;
}

function caseButtons(ids, limit = 60) {
  if (!ids?.length) return '<span class="muted small">无</span>';
  const shown = ids.slice(0, limit).map((id) => `<button type="button" class="case-ref" data-case="${id}">AJ${String(id).padStart(8, '0')}</button>`);
  const more = ids.length > limit ? `<span class="muted small">…另 ${ids.length - limit} 件</span>` : '';
  return shown.join('') + more;
}

function change(row) {
  if (row.change == null) return '<span class="muted">新</span>';
  if (row.change === 0) return '<span class="muted">0</span>';
  return row.change > 0 ? `<span class="up">↑${num(row.change)}</span>` : `<span class="down">↓${num(-row.change)}</span>`;
}

// --- the panel --------------------------------------------------------------------------------

export class KaopingPanel {
  /**
   * @param map the MapLibre map (its `street` and `community` sources loaded by data.js)
   * @param container the side panel
   * @param openCase called with a case id to show its timeline (the case panel)
   */
  constructor(map, container, { openCase = () => {}, onPick = () => {} } = {}) {
    Object.assign(this, { map, openCase, onPick });
    this.session = null;
    this.bands = [];
    this.passLine = 60;
    this.rankings = {}; // level → ranking of the period shown
    this.trend = null;
    this.seq = 0; // the newest load; older answers are dropped
    this.el = document.createElement('section');
    this.el.className = 'card kaoping';
    this.el.id = 'kaoping';
    this.el.hidden = true;
    this.el.innerHTML = `
      <h2>考评 <small class="muted">排名与记分卡</small></h2>
      <div class="kp-row">
        <label>周期 <select name="kind"><option value="week">按周</option><option value="month">按月</option></select></label>
        <select name="period" aria-label="考评周期"></select>
      </div>
      <div class="kp-row">
        <label>层级 <select name="level">${LEVELS.map(([v, t]) => `<option value="${v}"${v === 'streets' ? ' selected' : ''}>${t}</option>`).join('')}</select></label>
      </div>
      <div class="kp-row">
        <label><input type="checkbox" name="choropleth" checked> 地图着色</label>
        <label><input type="radio" name="colour" value="score" checked> 按得分</label>
        <label><input type="radio" name="colour" value="grade"> 按等级</label>
      </div>
      <div class="kp-legend small" data-out="legend"></div>
      <p class="muted small" data-out="status"></p>
      <div class="kp-admin" data-out="admin" hidden>
        <button type="button" data-action="publish">发布本期考评</button>
        <a href="/board" target="_blank" rel="noopener">公开红黑榜</a>
        <p class="small" data-out="published"></p>
      </div>
      <div data-out="card" class="kp-card"></div>
      <div class="kp-table-wrap"><table class="kp-table">
        <thead><tr><th>排名</th><th>名称</th><th>得分</th><th>等级</th><th>变化</th><th>近 ${TREND_PERIODS} 期</th></tr></thead>
        <tbody data-out="rows"></tbody>
      </table></div>
      <div class="small" data-out="meetings"></div>`;
    container.insertBefore(this.el, container.querySelector('#case-box')?.nextSibling ?? null);
    this.$ = (k) => this.el.querySelector(`[data-out=${k}]`);
    this.fillPeriods();
    this.el.addEventListener('change', (e) => {
      const name = e.target.name;
      if (name === 'kind') this.fillPeriods();
      if (name === 'kind' || name === 'period') this.load();
      if (name === 'level') this.load({ mapToo: false });
      if (name === 'colour' || name === 'choropleth') this.paint();
    });
    this.el.addEventListener('click', (e) => {
      const c = e.target.closest('[data-case]');
      if (c) {
        this.onPick();
        this.openCase(Number(c.dataset.case));
        return;
      }
      const u = e.target.closest('[data-unit]');
      if (u) this.showCard(u.dataset.level, u.dataset.unit);
      if (e.target.closest('[data-action=publish]')) this.publish();
      if (e.target.closest('[data-action=close-card]')) this.$('card').innerHTML = '';
    });
  }

  get period() { return this.el.querySelector('[name=period]').value; }
  get level() { return this.el.querySelector('[name=level]').value; }
  get colourBy() { return this.el.querySelector('[name=colour]:checked').value; }
  get shown() { return !this.el.hidden && this.el.querySelector('[name=choropleth]').checked; }

  fillPeriods() {
    const kind = this.el.querySelector('[name=kind]').value;
    this.el.querySelector('[name=period]').innerHTML = periodChoices(kind)
      .map(([v, t]) => `<option value="${v}">${escapeHtml(t)}</option>`).join('');
  }

  /** Shows the panel for roles that may read the assessment; hides it and its layers otherwise. */
  setSession(session) {
    this.session = session;
    const ok = ROLES.has(session?.user?.role);
    this.el.hidden = !ok;
    this.$('admin').hidden = session?.user?.role !== 'admin';
    this.$('card').innerHTML = '';
    if (ok) this.load();
    else this.paint();
  }

  /** Loads the period: the table's level with its trend, and the streets and communities for the map. */
  async load({ mapToo = true } = {}) {
    const seq = ++this.seq;
    const { period, level } = this;
    const q = (l) => `level=${l}&period=${encodeURIComponent(period)}`;
    this.$('status').textContent = '正在计算…';
    try {
      if (!this.bands.length) {
        const s = await api.request('/api/assessment/scheme');
        this.bands = s.scheme.grades;
        this.passLine = s.scheme.pass_line;
      }
      const levels = mapToo ? [...new Set([level, 'streets', 'communities'])] : [level];
      const [trend, ...rankings] = await Promise.all([
        api.request(`/api/assessment/trend?${q(level)}&periods=${TREND_PERIODS}`),
        ...levels.map((l) => api.request(`/api/assessment/rankings?${q(l)}`)),
      ]);
      if (seq !== this.seq) return;
      if (mapToo) this.rankings = {};
      levels.forEach((l, i) => { this.rankings[l] = rankings[i]; });
      this.trend = trend;
      this.renderTable();
      this.paint();
      const r = this.rankings[level];
      this.$('status').textContent = `${r.period} · ${LEVEL_ZH[level]} ${r.rows.length} 个 · 及格线 ${r.pass_line} 分`;
    } catch (e) {
      if (seq === this.seq) this.$('status').textContent = `考评读取失败:${e.message}`;
    }
  }

  renderTable() {
    const level = this.level;
    const r = this.rankings[level];
    const series = new Map((this.trend?.units ?? []).map((u) => [u.key, u.scores]));
    const people = level === 'inspectors' || level === 'dispatchers';
    const name = (row) => escapeHtml(row.name ?? (people ? `用户 ${row.key}` : row.key));
    this.$('rows').innerHTML = r.rows.map((row) => `
      <tr class="${row.below_pass ? 'below' : ''}" data-key="${escapeHtml(row.key)}">
        <td>${row.rank}</td>
        <td><button type="button" class="link" data-level="${level}" data-unit="${escapeHtml(row.key)}">${name(row)}</button></td>
        <td class="num">${num(row.score)}</td>
        <td><span class="grade" style="background:${gradeColour(this.bands, row.grade)}">${escapeHtml(row.grade)}</span></td>
        <td class="num">${change(row)}</td>
        <td>${sparkline(series.get(row.key) ?? [], r.pass_line)}</td>
      </tr>`).join('') || `<tr><td colspan="6" class="muted">本期没有计入考评的${LEVEL_ZH[level]}</td></tr>`;
    const byKey = new Map(r.rows.map((x) => [x.key, x]));
    const list = (keys, extra) => keys.map((k) => {
      const row = byKey.get(k);
      return `<li><button type="button" class="link" data-level="${level}" data-unit="${escapeHtml(k)}">${row ? name(row) : escapeHtml(k)}</button> ${row ? `${num(row.score)} 分` : ''}${extra(row)}</li>`;
    }).join('');
    this.$('meetings').innerHTML = `
      <h3>每日晚例会 <small class="muted">低于 ${r.pass_line} 分 ${r.evening_meetings.length} 个</small></h3>
      <ul data-out="evening">${list(r.evening_meetings, () => '') || '<li class="muted">无</li>'}</ul>
      <h3>连续不及格 <small class="muted">${r.chronic.length} 个</small></h3>
      <ul data-out="chronic">${list(r.chronic, (row) => (row ? ` · 连续 ${row.below_streak} 期` : '')) || '<li class="muted">无</li>'}</ul>`;
  }

  // --- the map ---------------------------------------------------------------------------------

  /** Colours streets (below COMMUNITY_ZOOM) and communities (from it) of the period's rankings. */
  paint() {
    const map = this.map;
    if (!map.getSource('street')) {
      // The style is still loading: paint once it has its sources.
      if (!this.waiting) {
        this.waiting = true;
        map.once('load', () => { this.waiting = false; this.paint(); });
      }
      return;
    }
    this.renderLegend();
    for (const [id, source, level, range] of [
      ['kaoping-street', 'street', 'streets', { maxzoom: COMMUNITY_ZOOM }],
      ['kaoping-community', 'community', 'communities', { minzoom: COMMUNITY_ZOOM }],
    ]) {
      const rows = this.rankings[level]?.rows ?? [];
      const visible = this.shown && rows.length > 0;
      if (!map.getLayer(id)) {
        if (!visible) continue;
        // Under the outlines and labels: above the area fills (street-fill is the last of them).
        const before = map.getStyle().layers.find((l) => l.id === 'road-alley')?.id;
        map.addLayer({ id, type: 'fill', source, ...range, paint: { 'fill-opacity': 0.7 } }, before);
        map.addLayer({
          id: `${id}-line`, type: 'line', source, ...range,
          paint: { 'line-color': '#ffffff', 'line-width': 1, 'line-opacity': 0.8 },
        }, before);
      }
      if (!visible) {
        map.setLayoutProperty(id, 'visibility', 'none');
        map.setLayoutProperty(`${id}-line`, 'visibility', 'none');
        continue;
      }
      const codes = rows.map((x) => x.key);
      const colour = ['match', ['get', 'code']];
      for (const x of rows) colour.push(x.key, this.colourBy === 'grade' ? gradeColour(this.bands, x.grade) : scoreColour(x.score));
      colour.push('rgba(0,0,0,0)');
      const filter = ['in', ['get', 'code'], ['literal', codes]];
      map.setFilter(id, filter);
      map.setFilter(`${id}-line`, filter);
      map.setPaintProperty(id, 'fill-color', colour);
      map.setLayoutProperty(id, 'visibility', 'visible');
      map.setLayoutProperty(`${id}-line`, 'visibility', 'visible');
    }
  }

  renderLegend() {
    const el = this.$('legend');
    if (!this.shown) {
      el.innerHTML = '';
      return;
    }
    const items = this.colourBy === 'grade'
      ? this.bands.map((b) => [gradeColour(this.bands, b.grade), `${b.grade} ≥ ${b.min}`])
      : [[SCORE_STOPS[1][1], '< 60'], [SCORE_STOPS[2][1], '60–75'], [SCORE_STOPS[3][1], '75–90'], [SCORE_STOPS[5][1], '≥ 90']];
    el.innerHTML = `${items.map(([c, t]) => `<span><i style="background:${c}"></i>${escapeHtml(t)}</span>`).join('')}
      <span class="muted">放大至 ${COMMUNITY_ZOOM} 级显示社区</span>`;
  }

  /** A map click on a coloured street or community opens its scorecard; true when used. */
  handleClick(e) {
    if (!this.shown) return false;
    const layers = KAOPING_LAYERS.filter((id) => this.map.getLayer(id) && this.map.getLayoutProperty(id, 'visibility') !== 'none');
    const hit = layers.length ? this.map.queryRenderedFeatures(e.point, { layers })[0] : null;
    if (!hit) return false;
    this.showCard(hit.layer.id === 'kaoping-street' ? 'streets' : 'communities', hit.properties.code);
    return true;
  }

  // --- the scorecard ---------------------------------------------------------------------------

  async showCard(level, key) {
    const out = this.$('card');
    const period = this.period;
    out.innerHTML = '<p class="muted small">正在读取记分卡…</p>';
    out.scrollIntoView?.({ block: 'nearest' });
    try {
      const [c, t] = await Promise.all([
        api.request(`/api/assessment/scorecards/${level}/${encodeURIComponent(key)}?period=${encodeURIComponent(period)}`),
        api.request(`/api/assessment/trend?level=${level}&key=${encodeURIComponent(key)}&period=${encodeURIComponent(period)}&periods=${TREND_PERIODS}`),
      ]);
      if (period !== this.period) return;
      out.innerHTML = this.cardHtml(c, t);
      out.dataset.level = level;
      out.dataset.key = key;
      // Departments not in a loaded ranking are named by the unit register.
      for (const p of c.partners) {
        if (p.level !== 'departments' || this.nameOf(p.level, p.key)) continue;
        api.unit(p.key).then((u) => {
          const el = out.querySelector(`[data-name-of="${CSS.escape(p.key)}"]`);
          if (u?.name && el) el.textContent = u.name;
        });
      }
    } catch (e) {
      out.innerHTML = `<p class="bad small">${e.status === 404 ? '本期没有计入该单位的案件。' : `记分卡读取失败:${escapeHtml(e.message)}`}</p>`;
    }
  }

  cardHtml(c, t) {
    const scores = t.units[0]?.scores ?? [];
    const measures = Object.entries(c.measures).map(([ind, m]) => {
      const [label, yes, no] = INDICATORS[ind] ?? [ind, '', ''];
      const ladder = ind.endsWith('_score');
      const value = ladder ? `${num(m.value * 100)} 分(${m.numerator} 件)` : `${pct(m.value)}(${m.numerator}/${m.denominator})`;
      const parts = [];
      if (m.cases.length) parts.push(`<div><span class="muted">${escapeHtml(yes)} ${m.cases.length} 件:</span>${caseButtons(m.cases)}</div>`);
      if (m.other_cases.length) parts.push(`<div class="other"><span class="muted">${escapeHtml(no)} ${m.other_cases.length} 件:</span>${caseButtons(m.other_cases)}</div>`);
      return `<details class="measure" data-indicator="${escapeHtml(ind)}"${m.other_cases.length ? ' open' : ''}>
        <summary><span>${escapeHtml(label)}</span> <strong>${value}</strong></summary>
        ${parts.join('') || '<p class="muted small">无案件</p>'}</details>`;
    }).join('');
    const components = c.components.map((x) => `${escapeHtml(INDICATORS[x.indicator]?.[0] ?? x.indicator)} ${num(x.earned)}/${num(x.points)}`).join(' · ');
    const counts = Object.entries(c.counts).filter(([, v]) => v.n > 0).map(([k, v]) => `
      <details class="measure" data-count="${escapeHtml(k)}"><summary><span>${escapeHtml(COUNTS_ZH[k] ?? k)}</span> <strong>${v.n} 件</strong></summary>${caseButtons(v.cases)}</details>`).join('');
    const deductions = c.deductions.length ? `<h4>扣分 <small class="muted">共 ${num(c.deductions.reduce((s, d) => s + d.points, 0))} 分</small></h4>
      <ul class="deductions">${c.deductions.map((d) => `<li>${caseButtons([d.case_id])} ${escapeHtml(REASON_ZH[d.reason] ?? d.reason)} −${num(d.points)}</li>`).join('')}</ul>` : '';
    const partners = c.partners.length ? `<h4>捆绑考评 <small class="muted">同奖同罚</small></h4>
      <ul class="partners">${c.partners.map((p) => `<li><button type="button" class="link" data-level="${p.level}" data-unit="${escapeHtml(p.key)}">${escapeHtml(LEVEL_ZH[p.level])} <span data-name-of="${escapeHtml(p.key)}">${escapeHtml(this.nameOf(p.level, p.key) ?? p.key)}</span></button> · 共同案件 ${p.cases} 件 · 本单位得分 ${num(p.score)}</li>`).join('')}</ul>` : '';
    return `
      <div class="kp-card-head">
        <div><strong data-field="unit-name">${escapeHtml(c.name ?? c.key)}</strong> <span class="code">${escapeHtml(c.key)}</span>
          <div class="muted small">${escapeHtml(LEVEL_ZH[c.level])} · ${escapeHtml(t.periods[t.periods.length - 1] ?? '')}</div></div>
        <button type="button" class="icon" data-action="close-card" aria-label="关闭记分卡">×</button>
      </div>
      <p class="kp-score"><span class="grade" style="background:${gradeColour(this.bands, c.grade)}">${escapeHtml(c.grade)}</span>
        <strong data-field="score">${num(c.score)}</strong> 分 <span class="muted small">本单位 ${num(c.own_score)} 分${c.below_pass ? ' · <span class="bad">低于及格线</span>' : ''}</span></p>
      <p class="small">近 ${scores.length} 期 ${sparkline(scores, t.pass_line, { width: 160, height: 32 })}</p>
      <p class="muted small">${components}</p>
      ${measures}${counts}${deductions}${partners}`;
  }

  /** A unit's name from a loaded ranking, or undefined. */
  nameOf(level, key) {
    return this.rankings[level]?.rows.find((r) => r.key === key)?.name ?? undefined;
  }

  async publish() {
    const out = this.$('published');
    out.textContent = '正在发布…';
    try {
      const r = await api.request(`/api/assessment/publish?period=${encodeURIComponent(this.period)}`, { method: 'POST' });
      const s = r.snapshot;
      out.textContent = r.created
        ? `已发布 ${s.period} 第 ${s.version} 版。`
        : `与已发布的第 ${s.version} 版相同,未生成新版本。`;
    } catch (e) {
      out.textContent = `发布失败:${e.message}`;
    }
  }
}
