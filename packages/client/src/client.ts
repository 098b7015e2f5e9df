/**
 * The client of one Allot cluster for a service: one method per thing a service does (grant,
 * debit, batch, refund, hold, capture, void, balance, balance as of a time, events, snapshot,
 * cluster, policy, stream), each a call
 * of Http (retries, failover) with an idempotency key generated once per call where the route takes
 * one, so every retry of that call is the same request.
 */
import { Http, type HttpOptions } from './http.js';
import { type StreamEvent, type StreamOptions, streamEvents } from './stream.js';
import type {
  Balance,
  BatchResult,
  CaptureAnswer,
  ClusterState,
  DebitAnswer,
  EventsPage,
  GrantAnswer,
  GrantRequest,
  HoldAnswer,
  Policy,
  PolicyChange,
  RefundAnswer,
  RetiredIncarnation,
  Snapshot,
  VersionVector,
} from './types.js';

/** Options of a client. */
export interface AllotClientOptions extends HttpOptions {
  /** Makes an idempotency key for a call that was given none (default crypto.randomUUID). */
  readonly idempotencyKey?: () => string;
}

/** What a call that may be a replay answers: the answer, and whether the node had answered it before. */
export type Replayable<T> = T & { readonly replayed: boolean };

/** Options of a debit or a hold. */
export interface DebitOptions {
  /** The idempotency key; default a new one for this call (reused by its retries). */
  readonly idempotencyKey?: string;
  /** At most 4 KiB of JSON, kept with the event. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** One debit of a batch. */
export interface BatchDebitInput extends DebitOptions {
  readonly tenant: string;
  readonly amount: number;
}

const segment = encodeURIComponent;

/** A client of the Allot HTTP API (API.md). */
export class AllotClient {
  private readonly http: Http;
  private readonly newKey: () => string;

  constructor(options: AllotClientOptions) {
    this.http = new Http(options);
    this.newKey = options.idempotencyKey ?? (() => globalThis.crypto.randomUUID());
  }

  /** The base URL of the region tried first now (the last that answered). */
  get region(): string {
    return this.http.current;
  }

  /** Creates a grant (admin); the same grantId and terms again replays it. */
  async grant(tenant: string, grant: GrantRequest): Promise<Replayable<GrantAnswer>> {
    return this.replayable<GrantAnswer>('POST', `/v1/tenants/${segment(tenant)}/grants`, grant);
  }

  /** Debits `amount` from `tenant` (service); declined → AllotApiError 402 insufficient_credits. */
  async debit(tenant: string, amount: number, options: DebitOptions = {}): Promise<Replayable<DebitAnswer>> {
    return this.replayable<DebitAnswer>('POST', `/v1/tenants/${segment(tenant)}/debits`, {
      amount,
      idempotencyKey: options.idempotencyKey ?? this.newKey(),
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
    });
  }

  /** Debits many tenants in one group commit: one result per debit, in order (each with its own key). */
  async debitBatch(debits: readonly BatchDebitInput[]): Promise<BatchResult[]> {
    const body = {
      debits: debits.map((debit) => ({
        tenant: debit.tenant,
        amount: debit.amount,
        idempotencyKey: debit.idempotencyKey ?? this.newKey(),
        ...(debit.metadata === undefined ? {} : { metadata: debit.metadata }),
      })),
    };
    const answer = await this.http.call<{ results: BatchResult[] }>({
      method: 'POST',
      path: '/v1/debits/batch',
      body,
    });
    return answer.body.results;
  }

  /** Refunds a debit, all that is left (no amount) or part (admin), at the region that took it. */
  async refund(
    tenant: string,
    debitId: string,
    options: { readonly amount?: number; readonly idempotencyKey?: string } = {},
  ): Promise<Replayable<RefundAnswer>> {
    return this.replayable<RefundAnswer>(
      'POST',
      `/v1/tenants/${segment(tenant)}/debits/${segment(debitId)}/refunds`,
      {
        ...(options.amount === undefined ? {} : { amount: options.amount }),
        idempotencyKey: options.idempotencyKey ?? this.newKey(),
      },
    );
  }

  /** Reserves `amount` now, to settle later (API.md "Holds"). */
  async hold(
    tenant: string,
    amount: number,
    options: DebitOptions & { readonly ttlSeconds?: number } = {},
  ): Promise<Replayable<HoldAnswer>> {
    return this.replayable<HoldAnswer>('POST', `/v1/tenants/${segment(tenant)}/holds`, {
      amount,
      idempotencyKey: options.idempotencyKey ?? this.newKey(),
      ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }),
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
    });
  }

  /** Captures `amount` (≤ the hold) of a hold: a debit of it, the rest released. */
  async capture(tenant: string, holdId: string, amount: number): Promise<Replayable<CaptureAnswer>> {
    const path = `/v1/tenants/${segment(tenant)}/holds/${segment(holdId)}/capture`;
    return this.replayable<CaptureAnswer>('POST', path, { amount });
  }

  /** Voids a hold: all of it released. */
  async voidHold(tenant: string, holdId: string): Promise<Replayable<HoldAnswer>> {
    const path = `/v1/tenants/${segment(tenant)}/holds/${segment(holdId)}/void`;
    return this.replayable<HoldAnswer>('POST', path, {});
  }

  /** A tenant's balance as known at the answering region; `at` (RFC 3339): as of that time. */
  async balance(tenant: string, options: { readonly at?: string } = {}): Promise<Balance> {
    const query = options.at === undefined ? '' : `?at=${encodeURIComponent(options.at)}`;
    const answer = await this.http.call<Balance>({
      method: 'GET',
      path: `/v1/tenants/${segment(tenant)}/balance${query}`,
    });
    return answer.body;
  }

  /**
   * A tenant's balance as of `at` (a Date, or an RFC 3339 string): the fold of its events up to
   * then, the same figures at every region that holds them; `versionVector` says which events.
   */
  async balanceAt(tenant: string, at: Date | string): Promise<Balance> {
    return this.balance(tenant, { at: typeof at === 'string' ? at : at.toISOString() });
  }

  /**
   * Every tenant's figures at one version vector, with each origin's signed head (auditor, admin):
   * the node's current vector, or with `at` exactly those log prefixes (each seq a segment end).
   */
  async snapshot(options: { readonly at?: VersionVector } = {}): Promise<Snapshot> {
    const query = options.at === undefined ? '' : `?at=${encodeURIComponent(JSON.stringify(options.at))}`;
    return (await this.http.call<Snapshot>({ method: 'GET', path: `/v1/snapshot${query}` })).body;
  }

  /** A page of a tenant's events (auditor, admin); pass `next` as `after` for the following page. */
  async events(
    tenant: string,
    options: { readonly after?: string; readonly limit?: number } = {},
  ): Promise<EventsPage> {
    const query = new URLSearchParams();
    if (options.after !== undefined) query.set('after', options.after);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    const suffix = query.size === 0 ? '' : `?${query}`;
    const answer = await this.http.call<EventsPage>({
      method: 'GET',
      path: `/v1/tenants/${segment(tenant)}/events${suffix}`,
    });
    return answer.body;
  }

  /** The answering node, its peers and stranded rights. */
  async cluster(): Promise<ClusterState> {
    return (await this.http.call<ClusterState>({ method: 'GET', path: '/v1/cluster' })).body;
  }

  /**
   * Retires `origin`, a lost incarnation (`region#incarnation`), at a node of its region (admin):
   * its stranded rights go to the region's current incarnation. Answers what moved and the risk.
   * A retry after a lost answer may get 409 `retired`: the first call did it.
   */
  async retireIncarnation(origin: string): Promise<RetiredIncarnation> {
    const path = `/v1/cluster/incarnations/${segment(origin)}/retire`;
    return (await this.http.call<RetiredIncarnation>({ method: 'POST', path })).body;
  }

  /** A tenant's policy. */
  async policy(tenant: string): Promise<Policy> {
    return (await this.http.call<Policy>({ method: 'GET', path: `/v1/tenants/${segment(tenant)}/policy` }))
      .body;
  }

  /** Changes the fields of a tenant's policy that `change` gives (admin). */
  async setPolicy(tenant: string, change: PolicyChange): Promise<Policy> {
    const path = `/v1/tenants/${segment(tenant)}/policy`;
    return (await this.http.call<Policy>({ method: 'PUT', path, body: change })).body;
  }

  /**
   * The event stream (GET /v1/stream, Server-Sent Events) as an async iterator: every event from
   * now (or from `after`), resumed without a gap from the last id after a dropped connection or an
   * overflow, at another region when this one is unreachable. Stop with `break` or `signal`.
   */
  stream(options: StreamOptions = {}): AsyncGenerator<StreamEvent, void, undefined> {
    return streamEvents(this.http, options);
  }

  private async replayable<T>(method: 'POST', path: string, body: unknown): Promise<Replayable<T>> {
    const answer = await this.http.call<T>({ method, path, body });
    return { ...answer.body, replayed: answer.headers.get('idempotent-replayed') === 'true' };
  }
}
