// A volunteer's (市民找差团) view of the map page: their own reports and what came of them, as a
// citizen following a report sees it (GET /api/volunteer/reports). Nothing of the city's other
// cases, units or people: the server refuses those to a volunteer, so the page never asks.
// CaseWork uses these for its side card and detail panel when a volunteer is logged in.

import { escapeHtml } from './info.js';

/** Outcome → [label, colour]: 处理中 / 已解决 / 不属实(作废). */
const OUTCOME = {
  open: ['处理中', '#3a6ea5'],
  resolved: ['已解决', '#1a7f37'],
  not_confirmed: ['不属实/作废', '#6b6b6b'],
};
const SOURCE_ZH = { volunteer: '我的上报', volunteer_inspection: '找差团督查发现' };

export const outcomeChip = (r) => {
  const [label, colour] = OUTCOME[r.outcome] ?? [r.outcome_zh ?? r.outcome, '#6b6b6b'];
  return `<span class="chip" data-field="outcome" data-outcome="${escapeHtml(r.outcome)}" style="background:${colour}">${escapeHtml(r.outcome_zh ?? label)}</span>`;
};

/**
 * The side card of a logged-in volunteer: the report button and their reports, newest first.
 * `reports` is null while loading; `error` a message when the list could not be read.
 */
export function ownReportsCard({ reports, error, reporting, categoryName, time }) {
  const items = (reports ?? []).map((r) => `
    <li><button type="button" class="case-item" data-own="${r.id}">
      <span class="code">${escapeHtml(r.case_no)}</span>
      ${escapeHtml(r.category_name ?? categoryName(r.category))} ${outcomeChip(r)}
      <small class="muted">${escapeHtml(time(r.reported_at))}</small>
    </button></li>`).join('');
  const list = reports === null ? '<li class="muted small">正在加载…</li>'
    : items || '<li class="muted small">您还没有上报过问题。点上面的按钮,再点地图上问题所在的位置。</li>';
  return `
    <h2>我的上报 <small class="muted">市民找差团</small></h2>
    <p class="muted small">您上报的问题先由所在网格的监督员核实,属实后立案派遣;这里可以看到每件的进展和处理结果。</p>
    <button type="button" class="primary" data-action="report" aria-pressed="${reporting}">${reporting ? '取消上报' : '在地图上上报问题'}</button>
    ${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
    <ul class="case-list" data-out="own-reports">${list}</ul>
    <button type="button" data-action="own-refresh">刷新</button>`;
}

/** The detail of one of the volunteer's reports, for the info panel. */
export function ownReportHtml(r, { categoryName, time }) {
  const rows = [];
  const add = (k, v, field) => {
    if (v === undefined || v === null || v === '') return;
    rows.push(`<tr><th>${escapeHtml(k)}</th><td${field ? ` data-field="${field}"` : ''}>${v}</td></tr>`);
  };
  add('处理结果', outcomeChip(r));
  add('进展', escapeHtml(r.status_zh), 'status');
  add('问题类别', escapeHtml(r.category_name ?? categoryName(r.category)));
  add('问题描述', escapeHtml(r.description));
  add('来源', escapeHtml(SOURCE_ZH[r.source] ?? '我的上报'));
  add('上报时间', escapeHtml(time(r.reported_at)));
  add('并入案件', r.merged_into && `${escapeHtml(r.merged_into)}(与他人反映的同一问题合并办理)`);
  add('办结时间', r.closed_at && escapeHtml(time(r.closed_at)));
  add('处理情况', r.closing_note && escapeHtml(r.closing_note), 'closing-note');
  const pics = (r.after_photos ?? []).map((p) => `
    <a class="photo" href="${escapeHtml(p.url)}" target="_blank" rel="noopener" data-stage="after">
      <img src="${escapeHtml(p.url)}" alt="处置后照片" loading="lazy"><span>处置后</span></a>`).join('');
  const explain = {
    open: '正在办理:核实属实后立案、派遣到责任单位处置,办结后这里会显示处理情况和处置后照片。',
    resolved: '已办结。感谢您的反映。',
    not_confirmed: '经网格监督员现场核实,问题不属实或已不存在,未立案。',
  }[r.outcome] ?? '';
  return `
    <table class="props case-props">${rows.join('')}</table>
    ${explain ? `<p class="muted small">${escapeHtml(explain)}</p>` : ''}
    ${pics ? `<h3>处置后照片</h3><div class="photos">${pics}</div>` : ''}`;
}
