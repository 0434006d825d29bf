/**
 * Helpers for mutation tests of parsers: take a valid payload, break one random node, and check
 * the parser neither throws nor accepts garbage. Seeded, so a failing case can be replayed.
 */

/** Replaces one node picked at random (walking down from the root) with `replacement`. */
export function replaceRandomNode(root: Record<string, unknown>, replacement: unknown, random: () => number): void {
  let node: unknown = root;
  for (;;) {
    if (typeof node !== 'object' || node === null) return;
    const container = node as Record<string, unknown>;
    const keys = Object.keys(container);
    const picked = keys[Math.floor(random() * keys.length)];
    if (picked === undefined) return;
    const child = container[picked];
    const isLeaf = typeof child !== 'object' || child === null;
    if (isLeaf || random() < 0.25) {
      container[picked] = replacement;
      return;
    }
    node = child;
  }
}

/** Deterministic PRNG (mulberry32) so a failure can be reproduced. */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
