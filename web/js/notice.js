// The printable 督查通报: reads the frozen notice (/api/inspections/rounds/{id}/notice) with the
// map page's session and lays it out as an A4 document, one table per street, with the first
// photo of each problem's case. ?round=ID[&version=N]
import { request } from './api.js';

const params = new URLSearchParams(location.search);
const round = Number(params.get('round'));
const version = params.get('version');
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const beijing = (iso) => iso ? new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false }).replace(/:\d\d$/, '') : '';

async function photoOf(caseId) {
  try {
    const c = await request(`/api/cases/${caseId}`);
    const p = (c.photos || []).find((x) => x.stage === 'before') || (c.photos || [])[0];
    return p ? `/photos/${p.sha256}` : null;
  } catch { return null; }
}

async function main() {
  if (!Number.isInteger(round) || round < 1) { $('notice-state').textContent = '缺少通报编号 (?round=)。'; return; }
  const q = version ? `?version=${encodeURIComponent(version)}` : '';
  let notice;
  try {
    notice = await request(`/api/inspections/rounds/${round}/notice${q}`);
  } catch (e) {
    // Chinese for the reader, never the server's raw message.
    $('notice-state').textContent = e.status === 401 ? '请先在地图页登录。'
      : e.status === 404 ? '该轮督查不存在，或尚未发布通报。'
      : '读取失败，请稍后重试。';
    return;
  }
  const doc = notice.document;
  $('notice-xlsx').href = `/api/inspections/rounds/${round}/notice.xlsx?version=${notice.version}`;
  $('notice-xlsx').addEventListener('click', async (ev) => {
    // The workbook needs the bearer token, which a plain link cannot send.
    ev.preventDefault();
    const session = JSON.parse(sessionStorage.getItem('wangge.session') || 'null');
    const res = await fetch(ev.currentTarget.href, { headers: session ? { authorization: `Bearer ${session.token}` } : {} });
    const blob = await res.blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `督查通报-${doc.round.title}-第${notice.version}版.xlsx`;
    a.click();
  });
  $('notice-print').addEventListener('click', () => window.print());
  $('notice-number').textContent = `${doc.organiser_zh}〔${doc.round.round_date.slice(0, 4)}〕第 ${doc.round.id} 号 · 第 ${notice.version} 版`;
  $('notice-title').textContent = `关于${doc.round.title}情况的通报`;
  const t = doc.totals;
  $('notice-summary').textContent = `${doc.round.round_date}，${doc.organiser_zh}对 ${doc.round.points.length} 个测评点位进行了督查，`
    + `实地检查 ${doc.visited} 个点位，发现问题 ${t.found} 个。现将问题通报如下，请各责任单位按时限完成整改，整改情况纳入考评。`;
  const byStreet = new Map();
  for (const p of doc.points) {
    for (const f of p.findings) {
      const street = p.point?.street_name || p.point?.street_code || '未知街道';
      if (!byStreet.has(street)) byStreet.set(street, []);
      byStreet.get(street).push({ p, f });
    }
  }
  const photos = new Map(await Promise.all(
    [...byStreet.values()].flat().map(async ({ f }) => [f.case_id, await photoOf(f.case_id)]),
  ));
  const sections = [];
  for (const [street, rows] of [...byStreet.entries()].sort((a, b) => a[0].localeCompare(b[0], 'zh-CN'))) {
    const body = rows.map(({ p, f }, i) => `<tr>
      <td>${i + 1}</td><td>${esc(p.point?.name || p.code)}<br><small>${esc(p.point?.point_type_name)}</small></td>
      <td>${esc(f.criterion_text)}<br><small>${esc(f.note)}</small></td>
      <td>${photos.get(f.case_id) ? `<img src="${esc(photos.get(f.case_id))}" alt="问题照片">` : '—'}</td>
      <td>${esc(f.unit_name || f.unit_code)}</td><td>${esc(beijing(f.deadline))}</td><td>${esc(f.status_zh)}</td>
      <td>${f.case_id}</td></tr>`).join('');
    sections.push(`<section class="street"><h3>${esc(street)}（${rows.length} 个问题）</h3>
      <table><thead><tr><th>序号</th><th>点位</th><th>问题</th><th>照片</th><th>责任单位</th><th>整改时限</th><th>状态</th><th>案卷</th></tr></thead>
      <tbody>${body}</tbody></table></section>`);
  }
  $('notice-streets').innerHTML = sections.join('') || '<p>本轮督查未发现问题。</p>';
  $('notice-issued').textContent = `${beijing(notice.published_at).slice(0, 10)} 发布`;
  $('notice').hidden = false;
  $('notice-state').textContent = `已发布第 ${notice.version} 版（发布后的整改进展见跟踪视图，不改写本通报）。`;
  document.body.dataset.ready = 'true';
}

main();
