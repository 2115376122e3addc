// The page's pure helpers in plain node (no browser): which case actions a role is offered, the
// Chinese error wording, and the owner chain's HTML.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allowedActions, errorZh } from '../../web/js/casework.js';
import { ownerChainHtml, zhPart } from '../../web/js/owner.js';
import { ApiError } from '../../web/js/api.js';

const GRID = '410102001002001';
const UNIT = 'dept-410103-cgzf';
const users = {
  inspector: { role: 'inspector', grids: [GRID] },
  intake_clerk: { role: 'intake_clerk' },
  shift_lead: { role: 'shift_lead' },
  dispatcher: { role: 'dispatcher' },
  handler: { role: 'handler', unit_code: UNIT },
  planner: { role: 'planner' },
};

// Who may move a case on from each status (src/domain/case.rs, apply()), including the side
// requests (RequestKind::requesters/from): 延时/回退 by the handler of the unit on 派遣/处置, 挂账 by
// the dispatcher and shift lead on 立案/派遣/处置, 作废 by the clerk, dispatcher and shift lead on
// 核实/采集/立案, and 恢复 of a parked case by the shift lead.
const HANDLER_ASKS = ['request_extend', 'request_send_back'];
const EXPECTED = {
  verifying: {
    inspector: ['verify_yes', 'verify_no'],
    intake_clerk: ['request_void'], dispatcher: ['request_void'], shift_lead: ['request_void'],
  },
  collected: {
    intake_clerk: ['register', 'request_void'], shift_lead: ['register', 'request_void'], dispatcher: ['request_void'],
  },
  registered: {
    dispatcher: ['dispatch', 'request_park', 'request_void'],
    shift_lead: ['request_park', 'request_void'], intake_clerk: ['request_void'],
  },
  dispatched: { handler: ['accept', ...HANDLER_ASKS], dispatcher: ['request_park'], shift_lead: ['request_park'] },
  handling: { handler: ['feedback', ...HANDLER_ASKS], dispatcher: ['request_park'], shift_lead: ['request_park'] },
  fed_back: { inspector: ['check_pass', 'check_fail'] },
  checked: { shift_lead: ['close'] },
  parked: { shift_lead: ['resume'] },
  closed: {}, voided: {}, merged: {},
};
// Who decides a pending request (RequestKind::approvers); everybody else gets nothing.
const DECIDERS = {
  extend: ['dispatcher', 'shift_lead'],
  send_back: ['dispatcher'],
  park: ['shift_lead'],
  void: ['shift_lead'],
};

describe('case actions offered by the map page', () => {
  for (const [status, byRole] of Object.entries(EXPECTED)) {
    it(`from ${status} only the roles the state machine allows get a button`, () => {
      const c = { id: 1, status, grid_code: GRID, unit_code: UNIT };
      for (const [role, user] of Object.entries(users)) {
        assert.deepEqual(allowedActions(c, user), byRole[role] ?? [], `${role} on ${status}`);
      }
    });
  }

  for (const [kind, deciders] of Object.entries(DECIDERS)) {
    it(`a pending ${kind} request is decided (批准/驳回) by ${deciders.join(', ')} only, in any status`, () => {
      for (const status of Object.keys(EXPECTED)) {
        const c = { id: 1, status, grid_code: GRID, unit_code: UNIT, pending_request: kind };
        for (const [role, user] of Object.entries(users)) {
          assert.deepEqual(allowedActions(c, user), deciders.includes(role) ? ['approve', 'reject'] : [], `${role} on ${status} with ${kind}`);
        }
        assert.deepEqual(allowedActions(c, { role: 'admin' }), ['approve', 'reject'], `admin on ${status} with ${kind}`);
      }
    });
  }

  it('an inspector gets no button outside their grids, a handler none for another unit', () => {
    assert.deepEqual(allowedActions({ status: 'verifying', grid_code: '410103009001010' }, users.inspector), []);
    assert.deepEqual(allowedActions({ status: 'dispatched', grid_code: GRID, unit_code: 'dept-410102-hw' }, users.handler), []);
    assert.deepEqual(allowedActions({ status: 'handling', grid_code: GRID, unit_code: 'dept-410102-hw' }, users.handler), []);
  });

  it('a pending request freezes the case for everybody but its approvers', () => {
    assert.deepEqual(allowedActions({ status: 'handling', unit_code: UNIT, pending_request: 'extend' }, users.handler), []);
    assert.deepEqual(allowedActions({ status: 'registered', unit_code: UNIT, pending_request: 'void' }, users.dispatcher), []);
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
