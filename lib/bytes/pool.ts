/**
 * Maps `items` through `fn` with at most `limit` calls in flight, and resolves with the results in the
 * order of `items` (not the order they finished in). Items are started in order; a rejection rejects
 * the whole map at once and no further item is started (calls already in flight run to their end, their
 * results dropped). `fn` gets each item's index too.
 *
 * @example
 * ```ts
 * import { pooledMap } from "./pool.ts";
 * const lengths = await pooledMap(["a", "bb", "ccc"], 2, async (s) => s.length);
 * console.log(lengths); // [1, 2, 3]
 * ```
 */
export async function pooledMap<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`Invalid pool limit '${limit}': expected an integer of at least 1`);
  }
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i], i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
