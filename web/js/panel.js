// The side panel: layer switches with their legends, the login box and the service status.

import * as api from './api.js';
import { escapeHtml, dateZh } from './info.js';

// --- layers and legend ---------------------------------------------------------------------

function swatch(item) {
  const style = [];
  switch (item.kind) {
    case 'fill':
      style.push(`background:${item.color}`, `border:1.5px solid ${item.border ?? item.color}`);
      break;
    case 'dash':
      style.push(`border-top:2px dashed ${item.color}`, 'height:0', 'margin-top:7px');
      break;
    case 'circle':
      style.push(`background:${item.color}`, 'border-radius:50%', 'border:1.5px solid #fff', 'box-shadow:0 0 0 1px #999');
      break;
    case 'ring':
      style.push('background:#fff', 'border-radius:50%', `border:3px solid ${item.color}`, 'width:14px', 'height:14px');
      break;
    case 'heat':
      return '<span class="swatch heat"></span>';
    case 'rail':
      return '<span class="swatch rail"></span>';
    default: // line
      style.push(`background:${item.color}`, `height:${item.width ?? 3}px`, 'margin-top:5px');
      if (item.border) style.push(`box-shadow:0 0 0 1px ${item.border}`);
  }
  return `<span class="swatch" style="${style.join(';')}"></span>`;
}

/**
 * Renders the layer list into `el`. `onToggle(group, visible)` is called on every switch.
 * Returns a function to call on zoom changes (greys out layers not shown at this zoom).
 */
export function renderLayerList(el, groups, onToggle) {
  el.innerHTML = groups.map((g) => `
    <li data-group="${g.id}"${g.off ? ' class="off"' : ''}>
      <label class="switch">
        <input type="checkbox"${g.off ? '' : ' checked'} data-group="${g.id}">
        <span class="title">${escapeHtml(g.title)}</span>
        ${g.minzoom ? `<small class="hint">放大至 ${g.minzoom} 级显示</small>` : ''}
      </label>
      <ul class="legend">${g.legend.map((i) => `<li>${swatch(i)}${escapeHtml(i.label)}</li>`).join('')}</ul>
    </li>`).join('');
  el.addEventListener('change', (e) => {
    const id = e.target.dataset.group;
    const g = groups.find((x) => x.id === id);
    if (g) {
      e.target.closest('li').classList.toggle('off', !e.target.checked);
      onToggle(g, e.target.checked);
    }
  });
  return (zoom) => {
    for (const g of groups) {
      if (!g.minzoom) continue;
      el.querySelector(`li[data-group="${g.id}"]`).classList.toggle('out-of-zoom', zoom < g.minzoom);
    }
  };
}

// --- login ---------------------------------------------------------------------------------

/**
 * The login box. Shows a form, or who is logged in with their role in Chinese.
 * `onSession(session|null)` is called after login, logout and the initial check.
 */
export class LoginBox {
  constructor(el, onSession = () => {}) {
    this.el = el;
    this.onSession = onSession;
    el.addEventListener('submit', (e) => {
      e.preventDefault();
      this._login();
    });
    el.addEventListener('click', (e) => {
      if (e.target.closest('[data-action=logout]')) this._logout();
    });
  }

  async init() {
    this.render(api.getSession());
    const s = await api.refreshSession();
    this.render(s);
    this.onSession(s);
  }

  render(session, error = '') {
    if (session?.user) {
      const u = session.user;
      const grids = u.grids?.length ? `<p class="muted">负责网格 ${u.grids.length} 个(地图上以蓝色标出)</p>` : '';
      const unit = u.unit_code ? `<p class="muted">所属单位 <span data-unit="${escapeHtml(u.unit_code)}"><span class="code">${escapeHtml(u.unit_code)}</span></span></p>` : '';
      this.el.innerHTML = `
        <div class="user">
          <div>
            <strong id="user-name" title="账号 ${escapeHtml(u.username)}">${escapeHtml(u.display_name || u.username)}</strong>
            <span class="role" id="user-role">${escapeHtml(u.role_zh || u.role)}</span>
          </div>
          <button type="button" data-action="logout">退出</button>
        </div>
        ${unit}${grids}`;
      const span = this.el.querySelector('[data-unit]');
      if (span) {
        api.unit(u.unit_code).then((named) => {
          if (named?.name && span.isConnected) span.textContent = named.name;
        });
      }
      return;
    }
    this.el.innerHTML = `
      <p class="newcomer" id="newcomer">不登录也能用:<strong>点击地图上任意位置</strong>,查看它属于哪个网格、社区、街道,由哪个单位负责。登录后可上报和办理案件。</p>
      <form id="login-form" autocomplete="on">
        <h2>登录</h2>
        <label>用户名 <input name="username" autocomplete="username" required></label>
        <label>密码 <input name="password" type="password" autocomplete="current-password" required></label>
        <button type="submit">登录</button>
        <p class="error" role="alert">${escapeHtml(error)}</p>
      </form>`;
  }

  async _login() {
    const form = this.el.querySelector('form');
    const data = new FormData(form);
    form.querySelector('button').disabled = true;
    try {
      const s = await api.login(String(data.get('username')).trim(), String(data.get('password')));
      this.render(s);
      this.onSession(s);
      // The form is gone: keyboard and screen-reader users land on who is now logged in.
      const who = this.el.querySelector('.user');
      if (who) {
        who.tabIndex = -1;
        who.focus({ preventScroll: true });
      }
    } catch (e) {
      // wangge's messages are bilingual ("用户名或密码错误。Wrong …"): keep the Chinese part.
      const msg = e instanceof api.ApiError && e.message ? e.message.split(/(?<=。)/)[0] : '无法连接服务';
      this.render(null, msg);
    }
  }

  async _logout() {
    // Forget the session locally first (the case layers hide and stop asking for tiles), then
    // revoke the token on the server.
    const token = api.getSession()?.token;
    api.forgetSession();
    this.render(null);
    this.onSession(null);
    if (token) await api.revoke(token).catch(() => {});
  }
}

// --- status --------------------------------------------------------------------------------

const LAYER_ZH = {
  district: '区', street: '街道/镇', community: '社区/村', grid: '单元网格', frontage: '门前三包责任段', zone: '专题区域',
};

/** Fills the status section: /healthz and the published layer versions. */
export async function renderStatus(el) {
  const healthEl = el.querySelector('#health');
  try {
    const { ok, body: j } = await api.health();
    healthEl.innerHTML = ok
      ? `<span class="ok">正常</span> · 数据库 ${escapeHtml(j.database.backend)}${j.database.postgis ? ` (PostGIS ${escapeHtml(j.database.postgis)})` : ''} · 数据版本 ${escapeHtml(j.index_version)} · 程序版本 ${escapeHtml(j.build.version)}`
      : `<span class="bad">不可用</span> · ${escapeHtml(j?.database?.error ?? '')}`;
  } catch {
    healthEl.innerHTML = '<span class="bad">无法连接服务</span>';
  }
  try {
    const versions = await api.layerVersions();
    el.querySelector('#versions').innerHTML = versions.map((v) => `
      <tr><td>${escapeHtml(LAYER_ZH[v.layer] ?? v.layer)}</td><td>${escapeHtml(v.version)}</td>
      <td>${Number(v.feature_count).toLocaleString('zh-CN')}</td><td>${escapeHtml(dateZh(v.valid_from))}</td>
      <td class="src">${escapeHtml(v.source)}</td></tr>`).join('');
  } catch {
    el.querySelector('#versions').innerHTML = '<tr><td colspan="5" class="bad">无法读取图层版本</td></tr>';
  }
}
