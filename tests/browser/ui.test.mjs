// The page's pure helpers in plain node (no browser): the buttons for the case actions the
// server allows, the Chinese error wording, and the owner chain's HTML.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allowedActions, errorZh } from '../../web/js/casework.js';
import { ownerChainHtml, zhPart } from '../../web/js/owner.js';
import { ApiError } from '../../web/js/api.js';

// Who may do what is the server's: every case view carries `allowed_actions` and
// `allowed_requests` for the logged-in user (the state machine's answer, tested per role and status
// in src/domain/case.rs). The page turns them into buttons and adds no rule of its own.
describe('case actions offered by the map page', () => {
  it('offers a button for each action the server allows, two for a verification or a check', () => {
    assert.deepEqual(allowedActions({ allowed_actions: ['verify'], allowed_requests: [] }), ['verify_yes', 'verify_no']);
    assert.deepEqual(allowedActions({ allowed_actions: ['check'], allowed_requests: [] }), ['check_pass', 'check_fail']);
    assert.deepEqual(allowedActions({ allowed_actions: ['register', 'request'], allowed_requests: ['void'] }), ['register', 'request_void']);
    assert.deepEqual(
      allowedActions({ allowed_actions: ['accept', 'request'], allowed_requests: ['extend', 'send_back'] }),
      ['accept', 'request_extend', 'request_send_back'],
    );
    assert.deepEqual(allowedActions({ allowed_actions: ['approve', 'reject'], allowed_requests: [] }), ['approve', 'reject']);
    assert.deepEqual(allowedActions({ allowed_actions: ['resume'], allowed_requests: [] }), ['resume']);
  });

  it('offers nothing the server did not allow, whatever the status, role or unit', () => {
    const c = { id: 1, status: 'dispatched', grid_code: '410102001002001', unit_code: 'dept-410103-cgzf', allowed_actions: [], allowed_requests: [] };
    assert.deepEqual(allowedActions(c), []);
    assert.deepEqual(allowedActions({ id: 1, status: 'collected' }), [], 'a view without the lists');
    assert.deepEqual(allowedActions(null), []);
  });

  it('leaves out an action it has no button for', () => {
    assert.deepEqual(allowedActions({ allowed_actions: ['request', 'link'], allowed_requests: ['void'] }), ['request_void']);
  });
});

describe('error and reason wording', () => {
  it('puts the Chinese explanation before the server message', () => {
    const text = errorZh(new ApiError(409, 'invalid_transition', 'cannot accept a case in status handling'));
    assert.match(text, /^案件当前状态不允许此操作/);
    assert.ok(text.includes('cannot accept'));
    assert.match(errorZh(new ApiError(403, 'out_of_scope', 'x')), /^该案件不在您的责任范围内/);
    assert.match(errorZh(new TypeError('Failed to fetch')), /^无法连接服务/);
  });

  it('keeps the Chinese part of a bilingual message', () => {
    assert.equal(zhPart('点位位于单元网格内。Inside unit grid.'), '点位位于单元网格内。');
    assert.equal(zhPart('只有中文。'), '只有中文。');
  });

  it('lists the boundary candidates and the fallback owner in the owner chain', () => {
    const html = ownerChainHtml({
      status: 'assigned', version: 3, on_boundary: true, ambiguous: false, boundary_grids: ['410102001002001', '410102001002002'],
      grid: { code: '410102001002001', name: '第001网格', unit_code: 'comm-410102001002' },
      community: null, street: null, district: null, frontages: [], zones: {}, department: null,
      owner: { level: 'grid', unit_code: 'comm-410102001002', reason: '属地兜底:网格责任单位。The grid\'s unit.' },
      reasons: ['在边界上。On the boundary.'],
    });
    assert.ok(html.includes('候选网格'));
    assert.ok(html.includes('410102001002002'));
    assert.ok(html.includes('data-level="owner"'));
    assert.ok(html.includes('判定依据(1)'));
  });
});

describe('who acts, in Chinese', () => {
  it('names the railway bureau as the one who acts on railway land, the grid\'s unit as assisting', () => {
    const html = ownerChainHtml({
      status: 'assigned', version: 3, on_boundary: false, ambiguous: false, boundary_grids: [],
      grid: { code: '410102001002001', name: '第001网格', unit_code: 'comm-410102001002' },
      community: null, street: null, district: null, frontages: [], department: null,
      zones: { railway_land: { name: '陇海铁路用地', unit_code: 'dept-railway-zzj', distance_m: 0 } },
      owner: { level: 'grid', unit_code: 'comm-410102001002', reason: '属地兜底：网格责任单位。The grid\'s unit.' },
      reasons: [],
    });
    const owner = html.slice(html.indexOf('data-level="owner"'));
    assert.match(owner, /处置责任<\/span> 铁路部门/);
    assert.ok(owner.includes('data-unit="dept-railway-zzj"'));
    assert.match(owner, /配合/);
    assert.ok(!html.includes('属地兜底</span>'), 'no rival 属地兜底 box on railway land');
  });

  it('shows the fallback owner\'s reason without its English half', () => {
    const html = ownerChainHtml({
      status: 'assigned', version: 3, frontages: [], zones: {}, boundary_grids: [],
      owner: { level: 'grid', unit_code: 'comm-410102001002', reason: '属地兜底：网格责任单位。The grid\'s unit.' },
      reasons: [],
    });
    const visible = html.replace(/title="[^"]*"/g, '');
    assert.ok(!/[A-Za-z]{4,}/.test(visible.replace(/<[^>]*>/g, '').replace(/comm-\d+/g, '')), visible);
  });
});
