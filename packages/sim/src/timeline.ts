/**
 * The timeline of a scenario in whole simulated milliseconds: when faults end, when the last one
 * heals, and when the run can be quiet (no more inputs due: no workload, no fault, no expiry), which
 * is where S4's quiet period starts.
 */
import type { Fault, Scenario } from './api.js';
import { CLOCK_SKEW_MS_MAX } from './limits.js';

/** Whole milliseconds of `seconds` from a scenario (0.1 + 0.2 s is 300 ms, not 300.00000000000006). */
export function msOf(seconds: number): number {
  return Math.round(seconds * 1000);
}

/** The scenario time (ms) at which a fault ends. */
export function faultEndMs(fault: Fault): number {
  return fault.kind === 'clock-step' || fault.kind === 'retire'
    ? msOf(fault.atS)
    : msOf(fault.atS) + msOf(fault.forS);
}

/** The last heal of the scenario, ms (0 when nothing heals). */
export function lastHealMs(scenario: Scenario): number {
  let last = 0;
  for (const fault of scenario.faults) {
    if (fault.kind === 'clock-step' || fault.kind === 'clock-drift') continue;
    last = Math.max(last, faultEndMs(fault));
  }
  return last;
}

/**
 * How far behind true time a region's clock can be, ms: its initial skew, every backward step, and
 * every slow drift, added up. A region expires a grant when its own clock reaches the expiry.
 */
export function clockLagMaxMs(scenario: Scenario): number {
  let lag = CLOCK_SKEW_MS_MAX;
  for (const fault of scenario.faults) {
    if (fault.kind === 'clock-step') lag += Math.max(0, -fault.stepMs);
    else if (fault.kind === 'clock-drift')
      lag += Math.ceil((Math.max(0, -fault.ppm) * msOf(fault.forS)) / 1_000_000);
  }
  return lag;
}

/**
 * When nothing is due any more, ms: the end of the workload, the last heal, and the last grant
 * expiry as the slowest clock can see it. The quiet period (S4) starts here.
 */
export function quietStartMs(scenario: Scenario): number {
  let lastExpiry = 0;
  for (const tenant of scenario.tenants)
    for (const grant of tenant.grants)
      if (grant.expiresInS !== undefined)
        lastExpiry = Math.max(lastExpiry, msOf(grant.atS) + msOf(grant.expiresInS));
  const expiries = lastExpiry === 0 ? 0 : lastExpiry + clockLagMaxMs(scenario);
  return Math.max(msOf(scenario.durationS), lastHealMs(scenario), expiries);
}
