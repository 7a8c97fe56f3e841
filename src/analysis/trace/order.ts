// Sorting the few items a trace has (its outcomes, a frontend's endpoints).

const FEW = 16;

/**
 * Sorts `items` in place, stably: the order Array.prototype.sort gives with the same comparison. A handful of items
 * are sorted by insertion, which is quicker there: the built-in sort copies them out and back, and a bulk trace
 * sorts thousands of short lists.
 */
export function sortStably<T>(items: T[], compare: (a: T, b: T) => number): T[] {
  if (items.length > FEW) return items.sort(compare);
  for (let i = 1; i < items.length; i++) {
    const item = items[i]!;
    let at = i;
    while (at > 0 && compare(items[at - 1]!, item) > 0) {
      items[at] = items[at - 1]!;
      at--;
    }
    items[at] = item;
  }
  return items;
}
