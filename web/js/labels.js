// Label points for polygons, computed once in the browser.
//
// Symbol layers placed directly on polygon sources repeat a label in every tile a polygon touches
// and may put it outside a concave shape. Instead each polygon gets one point: its pole of
// inaccessibility (the interior point farthest from the outline; the "polylabel" algorithm), so the
// label of a crescent-shaped district still lands inside it.

/** Distance from point (x, y) to the polygon outline, negative when outside. */
function signedDistance(x, y, rings) {
  let inside = false;
  let minSq = Infinity;
  for (const ring of rings) {
    for (let i = 0, n = ring.length, j = n - 1; i < n; j = i++) {
      const [ax, ay] = ring[i];
      const [bx, by] = ring[j];
      if ((ay > y) !== (by > y) && x < ((bx - ax) * (y - ay)) / (by - ay) + ax) inside = !inside;
      minSq = Math.min(minSq, segmentDistanceSq(x, y, ax, ay, bx, by));
    }
  }
  return (inside ? 1 : -1) * Math.sqrt(minSq);
}

function segmentDistanceSq(px, py, ax, ay, bx, by) {
  let x = ax;
  let y = ay;
  let dx = bx - ax;
  let dy = by - ay;
  if (dx !== 0 || dy !== 0) {
    const t = ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy);
    if (t > 1) { x = bx; y = by; } else if (t > 0) { x += dx * t; y += dy * t; }
  }
  dx = px - x;
  dy = py - y;
  return dx * dx + dy * dy;
}

function cell(x, y, h, rings) {
  const d = signedDistance(x, y, rings);
  return { x, y, h, d, max: d + h * Math.SQRT2 };
}

/** Pole of inaccessibility of a polygon given as GeoJSON rings (lon/lat, treated as planar). */
export function polylabel(rings, precisionFraction = 0.01) {
  const outer = rings[0];
  let minX = Infinity; let minY = Infinity; let maxX = -Infinity; let maxY = -Infinity;
  for (const [x, y] of outer) {
    minX = Math.min(minX, x); minY = Math.min(minY, y);
    maxX = Math.max(maxX, x); maxY = Math.max(maxY, y);
  }
  const size = Math.min(maxX - minX, maxY - minY);
  if (size === 0) return [minX, minY];
  const precision = Math.max(maxX - minX, maxY - minY) * precisionFraction;
  let h = size / 2;
  const queue = [];
  for (let x = minX; x < maxX; x += size) {
    for (let y = minY; y < maxY; y += size) queue.push(cell(x + h, y + h, h, rings));
  }
  // Start from the centroid of the outer ring's vertices: good for the convex generated shapes.
  const cx = outer.reduce((s, p) => s + p[0], 0) / outer.length;
  const cy = outer.reduce((s, p) => s + p[1], 0) / outer.length;
  let best = cell(cx, cy, 0, rings);
  let guard = 0;
  while (queue.length && guard++ < 5000) {
    // Simple best-first search; the queues here stay small (tens to hundreds of cells).
    let k = 0;
    for (let i = 1; i < queue.length; i++) if (queue[i].max > queue[k].max) k = i;
    const c = queue.splice(k, 1)[0];
    if (c.d > best.d) best = c;
    if (c.max - best.d <= precision) continue;
    h = c.h / 2;
    queue.push(cell(c.x - h, c.y - h, h, rings), cell(c.x + h, c.y - h, h, rings),
      cell(c.x - h, c.y + h, h, rings), cell(c.x + h, c.y + h, h, rings));
  }
  return [best.x, best.y];
}

/** The largest polygon of a (Multi)Polygon geometry, as rings. */
function mainRings(geometry) {
  if (geometry.type === 'Polygon') return geometry.coordinates;
  if (geometry.type !== 'MultiPolygon') return null;
  let best = null;
  let bestArea = -1;
  for (const rings of geometry.coordinates) {
    const a = Math.abs(ringArea(rings[0]));
    if (a > bestArea) { bestArea = a; best = rings; }
  }
  return best;
}

function ringArea(ring) {
  let s = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    s += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
  }
  return s / 2;
}

/**
 * One label point per polygon feature, carrying `name`, `code` and any extra properties given
 * by `pick`. `precision` trades accuracy for speed (fraction of the feature's size).
 */
export function labelPoints(fc, { precision = 0.02, pick = () => ({}) } = {}) {
  const features = [];
  for (const f of fc.features) {
    const rings = f.geometry && mainRings(f.geometry);
    if (!rings) continue;
    features.push({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: polylabel(rings, precision) },
      properties: { name: f.properties.name, code: f.properties.code, ...pick(f.properties) },
    });
  }
  return { type: 'FeatureCollection', features };
}

/** [minLon, minLat, maxLon, maxLat] of a FeatureCollection. */
export function bboxOf(fc) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]);
      b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]);
    } else c.forEach(walk);
  };
  for (const f of fc.features) if (f.geometry) walk(f.geometry.coordinates);
  return b;
}
