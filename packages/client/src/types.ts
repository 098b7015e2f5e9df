/**
 * The API's shapes, named: each an alias into the types openapi-typescript generated from the
 * node's OpenAPI document (generated/openapi.ts), so a change of the API changes them. Holds are
 * written from API.md's contract until the node's document has them.
 */
import type { components, operations } from './generated/openapi.js';

type Schemas = components['schemas'];
/** The JSON body of an operation's answer with `status`. */
type Answer<
  Id extends keyof operations,
  Status extends keyof operations[Id]['responses'],
> = operations[Id]['responses'][Status] extends { content: { 'application/json': infer Body } }
  ? Body
  : never;
/** The JSON body of an operation's request. */
type RequestBody<Id extends keyof operations> = operations[Id]['requestBody'] extends
  | { content: { 'application/json': infer Body } }
  | undefined
  ? Body
  : never;

/** A tenant's merged balance as known at the answering region (GET …/balance). */
export type Balance = Schemas['Balance'];
/** A grant as the API answers it. */
export type Grant = Schemas['Grant'];
/** A debit as the API answers it. */
export type Debit = Schemas['Debit'];
/** What a debit leaves: `available` at this region now, and the tenant's merged balance. */
export type DebitBalance = Schemas['DebitBalance'];
/** A refund as the API answers it. */
export type Refund = Schemas['Refund'];
/** A tenant's policy. */
export type Policy = Schemas['Policy'];
/** One ledger event, discriminated by `kind`. */
export type LedgerEvent = Schemas['Event'];
/** The error body of every failed request. */
export type ErrorBody = Schemas['Error']['error'];
/** One of the API's error codes (the catalogue). */
export type ErrorCode = ErrorBody['code'];

/** The body of a grant request. */
export type GrantRequest = RequestBody<'createGrant'>;
/** The answer of a grant. */
export type GrantAnswer = Answer<'createGrant', 201>;
/** The answer of a debit. */
export type DebitAnswer = Answer<'createDebit', 201>;
/** One debit of a batch, as sent. */
export type BatchDebit = Schemas['BatchDebit'];
/** One result of a batch, in the order of its debits. */
export type BatchResult = Answer<'createDebitBatch', 200>['results'][number];
/** The answer of a refund. */
export type RefundAnswer = Answer<'createRefund', 201>;
/** A page of a tenant's events. */
export type EventsPage = Answer<'listEvents', 200>;
/** The node, its peers and stranded rights (GET /v1/cluster). */
export type ClusterState = Answer<'getCluster', 200>;
/** What retiring a lost incarnation did: rights moved, the retired seq, the risk (admin). */
export type RetiredIncarnation = Answer<'retireIncarnation', 200>;
/** Every tenant's figures at one version vector, with each origin's signed head (GET /v1/snapshot). */
export type Snapshot = Answer<'getSnapshot', 200>;
/** A version vector: per origin (region#incarnation), the seq of its last event counted. */
export type VersionVector = Readonly<Record<string, number>>;
/** The body of a policy change. */
export type PolicyChange = RequestBody<'putPolicy'>;

/** A hold (API.md "Holds"): credits reserved now, settled later by its region. */
export interface Hold {
  readonly holdId: string;
  readonly tenant: string;
  readonly amount: number;
  readonly region: string;
  readonly expiresAt: string;
  readonly status: string;
}

/** The answer of a hold request. */
export interface HoldAnswer {
  readonly hold: Hold;
  readonly balance: DebitBalance & { readonly held?: number };
}

/** The answer of a capture: the hold, settled, and the debit it made. */
export interface CaptureAnswer extends HoldAnswer {
  readonly debit?: Debit;
}
