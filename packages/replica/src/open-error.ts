/** The one error a replica's open rejects with when its data cannot be served (opening.ts, recovery.ts). */

/** The replica cannot start on this data: one line that says why. Nothing was served. */
export class ReplicaOpenError extends Error {
  override readonly name = 'ReplicaOpenError';
}
