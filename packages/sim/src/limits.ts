/** Limits and constants of the simulator. Each is named and says why it is that number (STYLE.md). */

/**
 * The simulated epoch: region clocks start here (2030-01-01T00:00:00Z), plus their skew. A fixed
 * instant, so that event times, and with them hashes and histories, depend on the seed only.
 */
export const SIM_EPOCH_MS = Date.UTC(2030, 0, 1);

/**
 * Median simulated time of a synced store commit: an fsync on a datacenter NVMe disk takes
 * 0.1–1 ms, and the simulator's time moves in whole milliseconds, so 1 ms is also the least a
 * commit takes. Each commit draws its own latency (commit-latency.ts) around this median.
 */
export const COMMIT_LATENCY_MS_MEDIAN = 1;

/**
 * Spread of a commit's latency: log-normal with this sigma around the median, so the p99 of
 * ordinary commits is ~3× the median (e^(2.33·0.5)), what fsync latencies of a shared NVMe disk
 * show. A constant latency made every latency chart a flat line (issue 14).
 */
export const COMMIT_LATENCY_SIGMA = 0.5;

/**
 * One commit in this many stalls (a journal flush, the device's own garbage collection) for
 * COMMIT_STALL_MS_MIN–MAX more: the rare spikes a p99 of a busy region shows.
 */
export const COMMIT_STALL_CHANCE = 0.002;
export const COMMIT_STALL_MS_MIN = 5;
export const COMMIT_STALL_MS_MAX = 40;

/**
 * No ordinary commit takes longer than this (the log-normal's tail is cut here): past it a real
 * disk is failing, which is a fault of its own, not latency.
 */
export const COMMIT_LATENCY_MS_MAX = 20;

/** How often the truth and every region's view of every tenant are sampled into the history. */
export const SAMPLE_INTERVAL_MS = 100;

/**
 * How often convergence after a heal is probed while one is awaited: ten probes per summary
 * interval of the replica (500 ms) report convergence times to within 10 ms at little cost.
 */
export const CONVERGENCE_PROBE_MS = 10;

/**
 * Initial clock skew of each region, ± this many ms: what NTP keeps between datacenters. Enough
 * that two regions never agree on the millisecond by accident (event times order duplicates).
 */
export const CLOCK_SKEW_MS_MAX = 5;

/**
 * F1's healthy cluster (issue 12): every node's clock within this many ms of true time. Ten times
 * what NTP keeps (CLOCK_SKEW_MS_MAX): further off, a clock was stepped or drifted by a fault, and the
 * node judges expiry differently from its peers (rights it lends may arrive already expired).
 */
export const HEALTHY_CLOCK_OFFSET_MS = 50;

// A link's timeouts, redial backoff and send buffer are the cluster's one LINK_POLICY
// (@allot/replica): the transport's defaults and what nodes run with, so the network models the
// links nodes have. A long partition delays reconnection by up to its backoff cap after it heals:
// a real effect, reported in the convergence times.

/**
 * A client retries elsewhere after this long without trusting its first answer (a client timeout):
 * long enough for an answer to have come, short enough to race replication (~one summary).
 */
export const RETRY_DELAY_MS_MIN = 50;
/** A conflicting request (TenantSpec.conflicting) follows its first within this many ms: often while it is not durable yet. */
export const CONFLICT_DELAY_MS_MAX = 50;
export const RETRY_DELAY_MS_MAX = 1_000;

/**
 * A node whose start failed because its disk refused writes exits, and its supervisor (systemd's
 * `Restart=on-failure`, a container runtime) starts it again this long after.
 */
export const SUPERVISOR_RESTART_MS = 500;

/** A refund follows its debit after this long: a client reconciling its usage a little later. */
export const REFUND_DELAY_MS_MIN = 200;
export const REFUND_DELAY_MS_MAX = 2_000;

/** An admin whose grant found its region down tries again this much later, at the same region. */
export const GRANT_RETRY_MS = 1_000;

/**
 * Bursty rates: within each period the whole rate of the period arrives in the first `duty` of it
 * (5× the mean rate for a fifth of the time), so a region drains its rights faster than they move.
 */
export const BURST_PERIOD_MS = 5_000;
export const BURST_DUTY = 0.2;

/**
 * The cluster gets this long (simulated) to open every replica and connect every link before the
 * scenario's time 0; more means a bug in the harness or a replica that cannot start.
 */
export const BOOT_MS_MAX = 10_000;

/**
 * Simulated time allowed to take the final snapshots at the end: a snapshot waits for pending
 * commits (a few ms); longer means a replica is stuck.
 */
export const FINAL_SNAPSHOT_MS_MAX = 5_000;

/** Events read per page of a tenant's events at the end (the replica serves at most 1,000). */
export const FINAL_PAGE_EVENTS = 1_000;

/**
 * Tasks pending in the scheduler at once. A 16-region scenario at 100,000 debits/s holds a few
 * hundred thousand (frames in flight, timers, requests); past this the run is runaway, not big.
 */
export const TASKS_PENDING_MAX = 5_000_000;

/**
 * History records of one run: each is ~200 bytes in memory, so this bounds a run to ~2 GB. Over it,
 * the scenario asks for more than one process should record: shorten it or lower its rates.
 */
export const HISTORY_RECORDS_MAX = 10_000_000;

/**
 * Segments whose decoded events and identities the true ledger keeps (truth.ts), newest first out
 * last: a segment is committed by its origin and then by each peer within a few delays (each delay
 * ≤ a few hundred ms, i.e. a few thousand segments at 100,000 debits/s), so this catches nearly
 * every repeat; one older than that (a catch-up after a long partition) is decoded again, which
 * costs time, never a different answer.
 */
export const TRUTH_SEGMENT_MEMO_MAX = 16_384;

// ---------------------------------------------------------------------------------------------
// Scenario bounds (validateScenario)

/** Regions of a scenario: the replica's peers map is per region; more is not a topology we ship. */
export const REGIONS_MAX = 16;

/** Tenants of a scenario: each is sampled every 100 ms, so many tenants make the history large. */
export const TENANTS_MAX = 1_000;

/** Simulated seconds of a scenario (plus its quiet time): a day, far beyond any useful run. */
export const DURATION_S_MAX = 86_400;

/** Debits per second of one rate entry: 100,000/s is past what one node decides in real time. */
export const RATE_PER_SECOND_MAX = 100_000;

/** Faults of a scenario: a schedule longer than this is a generator bug, not a scenario. */
export const FAULTS_MAX = 10_000;

/**
 * Probability of losing a frame. Each loss resets the link; past one in two, runs of events
 * seldom arrive before the next reset, and the scenario tests nothing but reconnects.
 */
export const LOSS_MAX = 0.5;

/** One-way delay of a link, ms: a minute is beyond any real network and any useful scenario. */
export const DELAY_MS_MAX = 60_000;

/** Clock drift, ppm: crystals drift ~50 ppm; 100,000 (10%) is a broken clock, the largest we model. */
export const DRIFT_PPM_MAX = 100_000;

/** A clock step, ms: a day either way covers a misconfigured timezone or a bad NTP server. */
export const CLOCK_STEP_MS_MAX = 86_400_000;

/**
 * S7: a hold must have ended this long after its expiry (on the true clock) when the run ends. The
 * holding region releases it at its expiry on its own clock, which may run behind by the largest
 * skew, step or drift the simulator draws; a minute covers them with room.
 */
export const HOLD_END_BOUND_MS = 60_000;

/**
 * F1's benefit of the doubt for a hold left to expire: its release is durable at the holding region
 * within this long after its expiry (the expiry timer, then a group commit), on a clock without
 * faults. Credits it frees count as just made until then and a one-way delay after.
 */
export const HOLD_EXPIRY_SLACK_MS = 50;

/** LLM-style holds settle this long after they are taken: a model call of a moment to two seconds. */
export const HOLD_SETTLE_MS_MIN = 50;
/** See HOLD_SETTLE_MS_MIN. */
export const HOLD_SETTLE_MS_MAX = 2_000;

/** Frames a hostile wire remembers per direction to replay: a few seconds of a busy link. */
export const HOSTILE_RECENT_FRAMES = 64;

/** Most frames in flight a hostile wire lets a frame overtake (TCP never lets one overtake any). */
export const HOSTILE_REORDER_DEPTH_MAX = 8;

/**
 * Share of swarm seeds that draw a storage fault and share that draw a hostile wire (issue 15),
 * unless a scenario sets its own: enough that 1,000 seeds try each damage and tampering many
 * times, few enough that the classic fault mixes keep most of the seeds.
 */
export const SWARM_STORAGE_RATE = 0.3;
/** See SWARM_STORAGE_RATE. */
export const SWARM_HOSTILE_RATE = 0.2;

/**
 * Share of swarm seeds whose workload takes LLM-style holds at one tenant (issue 12), unless a
 * scenario sets its own (`faultRates.holds`): drawn from their own stream, so the other seeds keep
 * the histories they had (about a quarter of 1–10,000 draw them: 2,517).
 */
export const SWARM_HOLDS_RATE = 0.25;

/**
 * Share of swarm seeds that draw a lost disk whose incarnation an operator then retires (and, half
 * of those, restores from a backup after), unless a scenario sets its own (issue 11). 0 by default:
 * a retire is an operator's act with a reported risk, not a fault; scenarios that study it set it
 * (simulations/retire-lost-incarnation.yaml sets 1), and other seeds keep the mixes they had.
 */
export const SWARM_RETIRE_RATE = 0;

/**
 * Share of swarm seeds that draw write errors at a region (every commit fails for a while, the
 * process runs on), and share whose drawn workload sends keys again with another amount, unless a
 * scenario sets its own (`faultRates.writeErrors`, `faultRates.conflicting`). Each is drawn from its
 * own stream, so the other seeds keep the histories they had.
 */
export const SWARM_WRITE_ERRORS_RATE = 0.2;
/** See SWARM_WRITE_ERRORS_RATE. */
export const SWARM_CONFLICTING_RATE = 0.3;

/**
 * Tries of an operator's retire in a scenario, one simulated second apart, while the node answers
 * that it cannot yet (not ready, a peer region unreachable or holding more of the lost incarnation,
 * down): an operator retries; thirty seconds outlast a swarm's partitions (at most half its run).
 */
export const RETIRE_ATTEMPTS_MAX = 30;

/**
 * The borrow wait a drawn scenario's nodes run with spans this many of its slowest one-way delays
 * (plus 20 ms of commits): two round trips and a half, since at a tenant's last credits a borrow
 * often needs a second round trip (`borrowWaitOf`).
 */
export const BORROW_WAIT_DELAYS = 5;
