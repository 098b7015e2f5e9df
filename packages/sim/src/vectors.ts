/** Version vectors as the simulator compares them. */

/** A version vector as text, origins in order: equal texts, equal vectors. */
export function vectorText(vector: Readonly<Record<string, number>>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(vector).sort(([a], [b]) => (a < b ? -1 : 1))));
}
