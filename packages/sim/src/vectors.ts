/** Version vectors as the simulator compares them. */

/** A version vector as text, origins in order: equal texts, equal vectors. */
export function vectorText(vector: Readonly<Record<string, number>>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(vector).sort(([a], [b]) => (a < b ? -1 : 1))));
}

/** Whether two version vectors hold the same seq for every origin (an absent origin is 0 in neither). */
export function sameVector(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
): boolean {
  let count = 0;
  for (const origin in a) {
    if (b[origin] !== a[origin]) return false;
    count += 1;
  }
  for (const _origin in b) count -= 1;
  return count === 0;
}
