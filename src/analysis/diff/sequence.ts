// Sequence alignment of two lists of element ids: which elements of OLD are kept in NEW, in order.
//
// Patience anchoring (elements unique on both sides, kept in longest-increasing order) splits the lists
// into small gaps, and Myers' O((N+M)·D) algorithm in linear space aligns each gap. The anchors keep a
// shuffled 10,000-rule chain fast (plain Myers would be quadratic there) and make moved rules show as
// moved rather than dragging their neighbours along; inside a gap the alignment is a shortest edit script.

export interface Alignment {
  /** For each OLD index, the NEW index it is kept as, or -1 when it was deleted. */
  oldToNew: Int32Array;
  /** For each NEW index, the OLD index it was kept from, or -1 when it was inserted. */
  newToOld: Int32Array;
}

interface Range {
  oldFrom: number;
  oldTo: number;
  newFrom: number;
  newTo: number;
}

export interface AlignOptions {
  /** Anchor on unique elements first (default). Without: a shortest edit script, quadratic on shuffled lists. */
  anchors?: boolean;
}

/** Aligns `old` with `now` (arrays of element ids; equal ids are equal elements). */
export function alignSequences(old: ArrayLike<number>, now: ArrayLike<number>, options: AlignOptions = {}): Alignment {
  const oldToNew = new Int32Array(old.length).fill(-1);
  const newToOld = new Int32Array(now.length).fill(-1);
  const keep = (o: number, n: number) => {
    oldToNew[o] = n;
    newToOld[n] = o;
  };
  const pending: Range[] = [{ oldFrom: 0, oldTo: old.length, newFrom: 0, newTo: now.length }];
  for (let range = pending.pop(); range !== undefined; range = pending.pop()) {
    let { oldFrom, oldTo, newFrom, newTo } = range;
    while (oldFrom < oldTo && newFrom < newTo && old[oldFrom] === now[newFrom]) keep(oldFrom++, newFrom++);
    while (oldFrom < oldTo && newFrom < newTo && old[oldTo - 1] === now[newTo - 1]) keep(--oldTo, --newTo);
    if (oldFrom === oldTo || newFrom === newTo) continue;
    const anchors = options.anchors === false ? [] : uniqueAnchors(old, now, oldFrom, oldTo, newFrom, newTo);
    if (anchors.length > 0) {
      let previousOld = oldFrom;
      let previousNew = newFrom;
      for (const [o, n] of anchors) {
        keep(o, n);
        pending.push({ oldFrom: previousOld, oldTo: o, newFrom: previousNew, newTo: n });
        previousOld = o + 1;
        previousNew = n + 1;
      }
      pending.push({ oldFrom: previousOld, oldTo, newFrom: previousNew, newTo });
    } else {
      alignShared(old, now, oldFrom, oldTo, newFrom, newTo, keep);
    }
  }
  return { oldToNew, newToOld };
}

/** Pairs of elements that occur exactly once in each range, longest run in the same order. */
function uniqueAnchors(
  old: ArrayLike<number>, now: ArrayLike<number>, oldFrom: number, oldTo: number, newFrom: number, newTo: number,
): [number, number][] {
  // Per id: index in NEW when it occurs once there, -2 when more than once.
  const inNew = new Map<number, number>();
  for (let n = newFrom; n < newTo; n++) inNew.set(now[n], inNew.has(now[n]) ? -2 : n);
  const inOld = new Map<number, number>();
  for (let o = oldFrom; o < oldTo; o++) inOld.set(old[o], inOld.has(old[o]) ? -2 : o);
  const candidates: [number, number][] = [];
  for (let o = oldFrom; o < oldTo; o++) {
    const n = inNew.get(old[o]);
    if (n !== undefined && n >= 0 && inOld.get(old[o]) === o) candidates.push([o, n]);
  }
  return longestIncreasing(candidates);
}

/** Longest subsequence of `pairs` (increasing in OLD) that is also increasing in NEW: patience sorting. */
function longestIncreasing(pairs: [number, number][]): [number, number][] {
  if (pairs.length === 0) return pairs;
  const tails: number[] = []; // index into pairs of the smallest tail of each pile
  const previous = new Int32Array(pairs.length).fill(-1);
  for (let i = 0; i < pairs.length; i++) {
    const value = pairs[i][1];
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (pairs[tails[middle]][1] < value) low = middle + 1;
      else high = middle;
    }
    if (low > 0) previous[i] = tails[low - 1];
    tails[low] = i;
  }
  const result: [number, number][] = [];
  for (let i = tails[tails.length - 1]; i >= 0; i = previous[i]) result.push(pairs[i]);
  return result.reverse();
}

/**
 * Myers alignment of a range without unique anchors. Elements absent from the other side cannot be kept,
 * so they are set aside first: two unrelated lists then cost O(N+M), not O((N+M)²).
 */
function alignShared(
  old: ArrayLike<number>, now: ArrayLike<number>, oldFrom: number, oldTo: number, newFrom: number, newTo: number,
  keep: (o: number, n: number) => void,
): void {
  const inOld = new Set<number>();
  for (let o = oldFrom; o < oldTo; o++) inOld.add(old[o]);
  const inNew = new Set<number>();
  for (let n = newFrom; n < newTo; n++) inNew.add(now[n]);
  const oldIndex: number[] = [];
  for (let o = oldFrom; o < oldTo; o++) if (inNew.has(old[o])) oldIndex.push(o);
  const newIndex: number[] = [];
  for (let n = newFrom; n < newTo; n++) if (inOld.has(now[n])) newIndex.push(n);
  if (oldIndex.length === 0 || newIndex.length === 0) return;
  const a = new Int32Array(oldIndex.length);
  for (let i = 0; i < oldIndex.length; i++) a[i] = old[oldIndex[i]!];
  const b = new Int32Array(newIndex.length);
  for (let i = 0; i < newIndex.length; i++) b[i] = now[newIndex[i]!];
  myers(a, b, (x, y) => keep(oldIndex[x], newIndex[y]));
}

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Myers' linear-space algorithm: find the middle snake, split the box there, repeat on both halves. */
function myers(a: Int32Array, b: Int32Array, keep: (x: number, y: number) => void): void {
  const boxes: Box[] = [{ left: 0, top: 0, right: a.length, bottom: b.length }];
  const size = a.length + b.length + 3;
  const forward = new Int32Array(size);
  const backward = new Int32Array(size);
  for (let box = boxes.pop(); box !== undefined; box = boxes.pop()) {
    let { left, top, right, bottom } = box;
    while (left < right && top < bottom && a[left] === b[top]) keep(left++, top++);
    while (left < right && top < bottom && a[right - 1] === b[bottom - 1]) keep(--right, --bottom);
    if (left === right || top === bottom) continue;
    const snake = middleSnake(a, b, { left, top, right, bottom }, forward, backward);
    const [startX, startY, endX, endY] = snake;
    for (let x = startX, y = startY; x < endX && y < endY; ) {
      if (a[x] === b[y]) keep(x++, y++);
      else if (endX - x > endY - y) x++;
      else y++;
    }
    boxes.push({ left, top, right: startX, bottom: startY }, { left: endX, top: endY, right, bottom });
  }
}

/**
 * The middle snake of a box whose first and last elements differ: [x1, y1, x2, y2], one edit step followed
 * by a diagonal run, on a shortest edit path (Myers 1986, section 4b). `forward[k]` holds the furthest x
 * reached on diagonal k = x − y; `backward[c]` the smallest y reached backwards on diagonal c = k − delta.
 */
function middleSnake(a: Int32Array, b: Int32Array, box: Box, forward: Int32Array, backward: Int32Array): [number, number, number, number] {
  const width = box.right - box.left;
  const height = box.bottom - box.top;
  const delta = width - height;
  const odd = (delta & 1) !== 0;
  const limit = Math.ceil((width + height) / 2);
  const offset = limit + 1;
  forward[offset + 1] = box.left;
  backward[offset + 1] = box.bottom;
  for (let d = 0; d <= limit; d++) {
    for (let k = d; k >= -d; k -= 2) {
      let x: number;
      let fromX: number;
      if (k === -d || (k !== d && forward[offset + k - 1] < forward[offset + k + 1])) fromX = x = forward[offset + k + 1];
      else {
        fromX = forward[offset + k - 1];
        x = fromX + 1;
      }
      let y = box.top + (x - box.left) - k;
      const fromY = d === 0 || x !== fromX ? y : y - 1;
      while (x < box.right && y < box.bottom && a[x] === b[y]) {
        x++;
        y++;
      }
      forward[offset + k] = x;
      const c = k - delta;
      if (odd && c >= -(d - 1) && c <= d - 1 && y >= backward[offset + c]) return [fromX, fromY, x, y];
    }
    for (let c = d; c >= -d; c -= 2) {
      const k = c + delta;
      let y: number;
      let fromY: number;
      if (c === -d || (c !== d && backward[offset + c - 1] > backward[offset + c + 1])) fromY = y = backward[offset + c + 1];
      else {
        fromY = backward[offset + c - 1];
        y = fromY - 1;
      }
      let x = box.left + (y - box.top) + k;
      const fromX = d === 0 || y !== fromY ? x : x + 1;
      while (x > box.left && y > box.top && a[x - 1] === b[y - 1]) {
        x--;
        y--;
      }
      backward[offset + c] = y;
      if (!odd && k >= -d && k <= d && x <= forward[offset + k]) return [x, y, fromX, fromY];
    }
  }
  throw new Error("middleSnake: no overlap found (broken invariant)");
}
