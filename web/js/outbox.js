// The inspector's outbox (待上传): visits saved on the phone before they are sent, with the photo
// of each failed item as a Blob. IndexedDB, not localStorage: photos are megabytes, localStorage
// holds strings only (base64 would grow them by a third) and is capped at ~5 MB per origin.
//
// One record per (user, round, point), the unit the server is idempotent on:
// {key, user, round_id, point, point_name, marks: [{criterion, pass, note?}],
//  photos: {criterion: Blob}, uploaded: {criterion: true}, photo_errors: {criterion: text},
//  findings: [{id, criterion, case_id, deadline}] | null (the visit's answer, once known),
//  rejected: text | null (a 4xx: kept for the user to fix, never retried), last_error, saved_at}.

const DB = 'wangge-inspect';
const STORE = 'outbox';

let dbPromise = null;
function db() {
  dbPromise ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'key' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return dbPromise;
}

async function tx(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(STORE, mode);
    const out = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(out?.result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

export const recordKey = (user, roundId, point) => `${user}|${roundId}|${point}`;

/** Saves (or replaces) a record. */
export const put = (record) => tx('readwrite', (s) => s.put(record));
/** Removes a record (once the visit and its photos are all on the server). */
export const remove = (key) => tx('readwrite', (s) => s.delete(key));
/** Every record of this user, oldest first. */
export async function list(user) {
  const all = (await tx('readonly', (s) => s.getAll())) ?? [];
  return all.filter((r) => r.user === user).sort((a, b) => a.saved_at.localeCompare(b.saved_at));
}
