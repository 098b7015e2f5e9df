/**
 * A debit outcome in API terms, shared by POST /v1/tenants/{tenant}/debits (one answer) and
 * POST /v1/debits/batch (one result per item).
 */
import type { DebitCommand, DebitOutcome } from '@allot/replica';
import { type ApiError, apiError } from './errors.js';
import { notReadyError, unavailableError, unexpected } from './route-context.js';
import { debitBalanceJson, debitJson } from './views.js';

/** The message's words for each decline reason (API.md `details.reason`). */
const DECLINE_WORDS = {
  insufficient: 'not enough credits',
  unreachable: 'the credits are at regions cut off from this one',
  timeout: 'rights asked from other regions did not arrive in time',
} as const;

/** A debit outcome in which the debit happened (now, or before for a replay). */
export type DebitDone = Extract<DebitOutcome, { status: 'accepted' | 'replayed' }>;

/** A debit outcome in which nothing happened. */
export type DebitNotDone = Exclude<DebitOutcome, DebitDone>;

/** True when the debit of `outcome` happened (now, or before for a replay). */
export function isDone(outcome: DebitOutcome): outcome is DebitDone {
  return outcome.status === 'accepted' || outcome.status === 'replayed';
}

/** A debit that happened (now or before): the answer's body. */
export function debitAnswer(outcome: DebitDone) {
  return { debit: debitJson(outcome.debit), balance: debitBalanceJson(outcome.balance) };
}

/** The error of a debit that did not happen. */
export function debitError(command: DebitCommand, outcome: DebitNotDone): ApiError {
  switch (outcome.status) {
    case 'declined': {
      const blocked = outcome.reason === 'blocked';
      return apiError(
        'insufficient_credits',
        {
          tenant: command.tenant,
          requested: outcome.requested,
          available: outcome.available,
          reason: blocked ? 'the tenant is blocked' : DECLINE_WORDS[outcome.declineReason ?? 'insufficient'],
        },
        {
          requested: outcome.requested,
          available: outcome.available,
          reason: blocked ? 'blocked' : (outcome.declineReason ?? 'insufficient'),
        },
      );
    }
    case 'conflict':
      return apiError(
        'idempotency_key_conflict',
        { idempotencyKey: command.idempotencyKey },
        { idempotencyKey: command.idempotencyKey, debitId: outcome.debit.debitId },
      );
    case 'rejected':
      return apiError(
        'amount_limit',
        { what: `total debited of tenant ${command.tenant}`, limit: outcome.limit },
        { limit: outcome.limit },
      );
    case 'invalid':
      return apiError('invalid_request', { problem: outcome.detail }, { location: 'body' });
    case 'unavailable':
      return unavailableError(outcome);
    case 'not_ready':
      return notReadyError(outcome);
    default:
      return unexpected(outcome, 'debit outcome');
  }
}

/** The result status of a batch item whose debit did not happen (API.md's five, plus unavailable). */
export function batchStatusOf(outcome: DebitNotDone): 'declined' | 'conflict' | 'invalid' | 'unavailable' {
  switch (outcome.status) {
    case 'declined':
    case 'rejected':
      return 'declined';
    case 'conflict':
      return 'conflict';
    case 'invalid':
      return 'invalid';
    case 'unavailable':
    case 'not_ready':
      return 'unavailable';
    default:
      return unexpected(outcome, 'debit outcome');
  }
}
