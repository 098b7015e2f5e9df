import { ManualClock } from '@allot/replica';
import { RandomStream, RegionClock, Scheduler, SIM_EPOCH_MS, SimulationFailure } from '@allot/sim';
import { describe, expect, it } from 'vitest';

describe('Scheduler', () => {
  it('runs tasks in (time, insertion) order and lets promises finish before time moves', async () => {
    const scheduler = new Scheduler();
    const seen: string[] = [];
    scheduler.at(5, () => seen.push('b@5'));
    scheduler.at(2, () => {
      seen.push('a@2');
      void Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => {
          seen.push(`promise@${scheduler.now}`);
          scheduler.after(0, () => seen.push(`same-instant@${scheduler.now}`));
        });
    });
    scheduler.at(5, () => seen.push('c@5'));
    await scheduler.runUntil(10);
    expect(seen).toEqual(['a@2', 'promise@2', 'same-instant@2', 'b@5', 'c@5']);
    expect(scheduler.now).toBe(10);
  });

  it('never runs a cancelled task; a task for the past runs now', async () => {
    const scheduler = new Scheduler();
    const seen: number[] = [];
    const task = scheduler.at(3, () => seen.push(3));
    scheduler.cancel(task);
    await scheduler.runUntil(4);
    scheduler.at(1, () => seen.push(scheduler.now));
    await scheduler.runUntil(6);
    expect(seen).toEqual([4]);
  });

  it('settles a promise that needs simulated time, and fails loudly when it never settles', async () => {
    const scheduler = new Scheduler();
    const later = new Promise<string>((resolve) => scheduler.after(250, () => resolve('done')));
    await expect(scheduler.settle(later, 1_000)).resolves.toBe('done');
    expect(scheduler.now).toBeGreaterThanOrEqual(250);
    await expect(scheduler.settle(new Promise(() => {}), 50)).rejects.toThrow(/not settled within 50/);
  });

  it('stops at the first failure: a throwing task rejects the run with the simulated time', async () => {
    const scheduler = new Scheduler();
    scheduler.at(7, () => {
      throw new Error('broken invariant');
    });
    const ran: number[] = [];
    scheduler.at(8, () => ran.push(8));
    const failure = await scheduler.runUntil(20).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SimulationFailure);
    expect((failure as SimulationFailure).atMs).toBe(7);
    expect((failure as Error).message).toMatch(/broken invariant/);
    expect(ran).toEqual([]);
  });
});

describe('RegionClock', () => {
  it('starts at the simulated epoch plus its skew, steps, and drifts; timers stretch with drift', async () => {
    const scheduler = new Scheduler();
    const clock = new RegionClock(scheduler, 3);
    expect(clock.now()).toBe(SIM_EPOCH_MS + 3);
    await scheduler.runUntil(1_000);
    expect(clock.offsetMs()).toBe(3);
    clock.step(-2_000);
    expect(clock.offsetMs()).toBe(-1_997);
    clock.drift(100_000); // 10% fast
    await scheduler.runUntil(11_000);
    expect(clock.offsetMs()).toBe(-1_997 + 1_000);
    expect(clock.timerDelay(1_100)).toBe(1_000);
    clock.drift(0);
    await scheduler.runUntil(12_000);
    expect(clock.offsetMs()).toBe(-997);
  });

  it('moves like ManualClock when nothing is wrong with it', async () => {
    const scheduler = new Scheduler();
    const clock = new RegionClock(scheduler, 0);
    const manual = new ManualClock(SIM_EPOCH_MS);
    for (const step of [1, 10, 499, 1_000]) {
      await scheduler.runUntil(scheduler.now + step);
      manual.advance(step);
      expect(clock.now()).toBe(manual.now());
    }
  });
});

describe('RandomStream', () => {
  it('gives the same draws for the same seed and purpose, and independent ones per purpose', () => {
    const draws = (seed: number, purpose: string) => {
      const rng = new RandomStream(seed, purpose);
      return Array.from({ length: 8 }, () => rng.nextUint32());
    };
    expect(draws(1, 'network')).toEqual(draws(1, 'network'));
    expect(draws(1, 'network')).not.toEqual(draws(1, 'workload'));
    expect(draws(1, 'network')).not.toEqual(draws(2, 'network'));
    expect(draws(1, 'network')).not.toEqual(draws(2 ** 32 + 1, 'network'));
  });

  it('draws within its ranges', () => {
    const rng = new RandomStream(9, 'ranges');
    for (let i = 0; i < 1_000; i++) {
      const value = rng.int(-3, 3);
      expect(value).toBeGreaterThanOrEqual(-3);
      expect(value).toBeLessThanOrEqual(3);
      expect(rng.next()).toBeLessThan(1);
    }
    expect(rng.chance(0)).toBe(false);
  });
});
