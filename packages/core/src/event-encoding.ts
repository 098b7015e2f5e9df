/**
 * The canonical bytes of a ledger event, fast: the same text as `canonicalJson(event)` (sorted
 * keys), written field by field in a fixed order per kind instead of sorting keys per object.
 * Every event is hashed into its origin's chain when it is written and again when it is received,
 * so this is on the hot path. An event with any other set of fields falls back to the generic
 * encoder, so the two can never disagree (a property test checks that they don't).
 */
import { type Canonical, canonicalJson } from './canonical.js';
import type { LedgerEvent, Part } from './events.js';

const FIELD_COUNT: Record<LedgerEvent['kind'], number> = {
  grant: 9,
  debit: 10,
  refund: 10,
  move: 7,
  expire: 7,
  repay: 7,
  revoke: 11,
  // Holds take the generic encoder (no event has 0 fields); the binary codec replaces all of this.
  hold: 0,
  capture: 0,
  release: 0,
  retire: 0,
};

const str = JSON.stringify;

function parts(list: readonly Part[]): string {
  let text = '[';
  for (let i = 0; i < list.length; i++) {
    const part = list[i] as Part;
    if (Object.keys(part).length !== 2) return canonicalJson(list as unknown as Canonical);
    text += `${i === 0 ? '' : ','}{"amount":${part.amount},"grantId":${str(part.grantId)}}`;
  }
  return `${text}]`;
}

/** The canonical JSON text of `event`, equal to `canonicalJson(event)`. */
export function eventCanonicalJson(event: LedgerEvent): string {
  if (Object.keys(event).length !== FIELD_COUNT[event.kind])
    return canonicalJson(event as unknown as Canonical);
  const at = event.at;
  const origin = str(event.origin);
  const tenant = str(event.tenant);
  switch (event.kind) {
    case 'grant':
      return `{"amount":${event.amount},"at":${at},"expiresAt":${event.expiresAt === null ? 'null' : event.expiresAt},"grantId":${str(event.grantId)},"kind":"grant","origin":${origin},"priority":${event.priority},"seq":${event.seq},"tenant":${tenant}}`;
    case 'debit':
      return `{"amount":${event.amount},"at":${at},"idempotencyKey":${str(event.idempotencyKey)},"kind":"debit","metadata":${canonicalJson(event.metadata)},"origin":${origin},"overdraft":${event.overdraft},"parts":${parts(event.parts)},"seq":${event.seq},"tenant":${tenant}}`;
    case 'refund':
      return `{"amount":${event.amount},"at":${at},"debitId":${str(event.debitId)},"idempotencyKey":${str(event.idempotencyKey)},"kind":"refund","origin":${origin},"overdraft":${event.overdraft},"parts":${parts(event.parts)},"seq":${event.seq},"tenant":${tenant}}`;
    case 'move':
      return `{"at":${at},"kind":"move","origin":${origin},"parts":${parts(event.parts)},"seq":${event.seq},"tenant":${tenant},"to":${str(event.to)}}`;
    case 'expire':
      return `{"amount":${event.amount},"at":${at},"grantId":${str(event.grantId)},"kind":"expire","origin":${origin},"seq":${event.seq},"tenant":${tenant}}`;
    case 'repay':
      return `{"amount":${event.amount},"at":${at},"kind":"repay","origin":${origin},"parts":${parts(event.parts)},"seq":${event.seq},"tenant":${tenant}}`;
    case 'revoke':
      return `{"amount":${event.amount},"at":${at},"grantId":${str(event.grantId)},"kind":"revoke","loser":${str(event.loser)},"origin":${origin},"overdraft":${event.overdraft},"parts":${parts(event.parts)},"seq":${event.seq},"tenant":${tenant},"total":${event.total}}`;
    default:
      return canonicalJson(event as unknown as Canonical);
  }
}

const encoder = new TextEncoder();

/** The canonical bytes of `event` (UTF-8 of `eventCanonicalJson`). */
export function eventCanonicalBytes(event: LedgerEvent): Uint8Array {
  return encoder.encode(eventCanonicalJson(event));
}
