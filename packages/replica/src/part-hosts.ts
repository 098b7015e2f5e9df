/**
 * How the replica's parts reach each other (STYLE.md "One owner, one home"): per part, the host it
 * is handed, built from the replica's state and its other parts (replica-node.ts). A host names
 * only what its part uses; a part made later is reached through a function, read when called.
 */
import type { AntiEntropyHost } from './anti-entropy.js';
import type { ArchivingPorts } from './archiving.js';
import type { BorrowHost } from './borrow.js';
import type { CommandsHost } from './commands.js';
import type { DeadlinesHost } from './deadlines.js';
import type { GrantsHost } from './grants.js';
import type { GroupCommitHost } from './group-commit.js';
import type { ForwardingHost } from './hold-forwarding.js';
import type { JoiningHost } from './joining.js';
import type { LogConfirmHost } from './log-confirm.js';
import type { PeerLinkHost } from './peer-link.js';
import type { ReadsHost } from './reads.js';
import type { RebalancingHost } from './rebalancing.js';
import type { RemoteEventsHost } from './remote-events.js';
import type { ReplicaNode } from './replica-node.js';
import { countedVector, ownRetiredLine } from './retire.js';
import type { WritabilityHost } from './writability.js';

/** The WritabilityHost of the replica's `writability`. */
export function writabilityHost(replica: ReplicaNode): WritabilityHost {
  return {
    origin: replica.origin,
    region: replica.region,
    store: replica.ports.store,
    logger: replica.ports.logger,
    observer: replica.ports.observer,
    peerKeys: replica.options.peerKeys,
    knownRegions: replica.knownRegions,
    peers: replica.peers,
    heard: replica.heard,
    successors: replica.successors,
    ownLog: () => replica.ownLog,
    logConfirm: () => replica.logConfirm,
    remote: () => replica.remote,
    deadlines: () => replica.deadlines,
    state: () => replica.state,
    heads: () => replica.heads,
    closing: () => replica.closing,
    ownRetired: () => replica.ownRetired,
    joining: () => replica.joiner?.refusesWrites === true,
  };
}

/** The DeadlinesHost of the replica's `deadlines`. */
export function deadlinesHost(replica: ReplicaNode): DeadlinesHost {
  return {
    origin: replica.origin,
    clock: replica.ports.clock,
    logger: replica.ports.logger,
    expiries: replica.expiries,
    idempotencyRetentionMs: replica.options.idempotencyRetentionMs,
    ownLog: () => replica.ownLog,
    state: () => replica.state,
    closing: () => replica.closing,
    broken: () => replica.broken !== null,
    logConfirmed: () => replica.writability.logConfirmed,
    wake: (tenant) => {
      replica.borrowing.wake(tenant);
      replica.rebalancing.rightsArrived(tenant);
    },
  };
}

/** The GroupCommitHost of the replica's `ownLog`. */
export function ownLogHost(replica: ReplicaNode): GroupCommitHost {
  return {
    cluster: replica.cluster,
    origin: replica.origin,
    store: replica.ports.store,
    clock: replica.ports.clock,
    crypto: replica.ports.crypto,
    logger: replica.ports.logger,
    observer: replica.ports.observer,
    sync: replica.options.durability === 'fsync',
    batchEventsMax: replica.options.batchEventsMax,
    state: () => replica.state,
    heads: () => replica.heads,
    closing: () => replica.closing,
    broken: () => replica.broken !== null,
    break: (error) => {
      replica.broken = error;
    },
    recover: () => replica.recover(),
    balanceFolded: (tenant) => replica.reads.balanceAt(tenant, replica.reads.versionVector()),
    balanceDurable: (tenant) => replica.reads.balanceAt(tenant, replica.reads.durableVersionVector()),
    committed: (eventCount, segments, tenants) => {
      replica.checkpoints?.committed(eventCount);
      replica.spillClosedKeys();
      replica.feed.publishSegments(segments, tenants);
    },
    afterCommit: (batch, own) => {
      if (batch.ownFirstSeq !== null)
        replica.antiEntropy.pushLive({
          ownFirstSeq: batch.ownFirstSeq,
          lastSeq: batch.lastSeq,
          segments: own,
        });
      if (!replica.writability.logConfirmed) replica.writability.checkLogWhole();
    },
  };
}

/** The ReadsHost of the replica's `reads`. */
export function readsHost(replica: ReplicaNode): ReadsHost {
  return {
    cluster: replica.cluster,
    region: replica.region,
    origin: replica.origin,
    store: replica.ports.store,
    clock: replica.ports.clock,
    crypto: replica.ports.crypto,
    logger: replica.ports.logger,
    idempotencyRetentionMs: replica.options.idempotencyRetentionMs,
    ownLog: replica.ownLog,
    keySpill: replica.keySpill,
    peers: replica.peers,
    grantConflicts: replica.grantConflicts,
    link: () => replica.link,
    state: () => replica.state,
    heads: () => replica.heads,
    control: () => replica.control,
    recordWindow: () => replica.recordWindow(),
    closing: () => replica.closing,
    broken: () => replica.broken !== null,
  };
}

/** The ArchivingPorts of the replica's `archiving`. */
export function archivingPorts(replica: ReplicaNode): ArchivingPorts {
  return {
    store: replica.ports.store,
    clock: replica.ports.clock,
    logger: replica.ports.logger,
    regions: () => replica.writability.otherRegions(),
    heads: () => replica.heads,
  };
}

/** The AntiEntropyHost of the replica's `antiEntropy`. */
export function antiEntropyHost(replica: ReplicaNode): AntiEntropyHost {
  return {
    origin: replica.origin,
    logger: replica.ports.logger,
    now: () => replica.ports.clock.now(),
    attached: () => replica.link.transport !== null,
    heads: () => replica.heads,
    peers: () => replica.peers,
    peer: (region) => replica.link.peer(region),
    readSegments: (origin, fromSeq, limit) => replica.ports.store.readSegments(origin, fromSeq, limit),
    retired: () => replica.state.retired,
    send: (region, frame) => replica.link.send(region, frame),
    summary: () => ({
      versionVector: replica.heard.summaryVector(replica.reads.durableVersionVector()),
      control: replica.control.stateVector(),
    }),
  };
}

/** The RebalancingHost of the replica's `rebalancing`. */
export function rebalancingHost(replica: ReplicaNode): RebalancingHost {
  return {
    origin: replica.origin,
    region: replica.region,
    borrowWaitMs: replica.options.borrowWaitMs,
    adaptive: () => replica.options.rebalancing === 'adaptive',
    attached: () => replica.link.transport !== null,
    logConfirmed: () => replica.writability.logConfirmed,
    state: () => replica.state,
    weights: (tenant) => replica.control.policy(tenant).weights,
    rttMs: () => replica.link.rttMs,
    rttMsTo: (region) => replica.link.rttMsTo(region),
    now: () => replica.ports.clock.now(),
    peers: () => replica.peers,
    peer: (region) => replica.link.peer(region),
    send: (region, frame) => replica.link.send(region, frame),
    waitingFor: (tenant, within) => replica.borrowing.waitingFor(tenant, within),
    reachableCredits: (tenant) => replica.commands.reachableCredits(tenant),
    claim: (tenant) => replica.borrowing.claim(tenant),
    moveRights: (tenant, to, amount) => {
      if (replica.moveRights(tenant, to, amount)) replica.borrowing.movedAway(tenant);
    },
  };
}

/** The BorrowHost of the replica's `borrowing`. */
export function borrowingHost(replica: ReplicaNode): BorrowHost {
  return {
    origin: replica.origin,
    borrowWaitMs: replica.options.borrowWaitMs,
    attached: () => replica.link.transport !== null,
    state: () => replica.state,
    overdraftLimit: (tenant) => replica.commands.overdraftLimit(tenant),
    now: () => replica.ports.clock.now(),
    setTimer: (ms, callback) => replica.ports.clock.setTimer(ms, callback),
    peers: () => replica.peers,
    send: (region, frame) => replica.link.send(region, frame),
    ownHead: () => replica.ownLog.nextSeq - 1,
    reachableCredits: (tenant) => replica.commands.reachableCredits(tenant),
    waited: (ms, result) => replica.ports.observer?.debitWaited?.(ms / 1000, result),
    released: (tenant) => {
      if (!replica.closing) replica.rebalancing.rightsArrived(tenant);
    },
  };
}

/** The LogConfirmHost of the replica's `logConfirm`. */
export function logConfirmHost(replica: ReplicaNode): LogConfirmHost {
  return {
    region: replica.region,
    origin: replica.origin,
    otherRegions: () => replica.writability.regionsToConfirm(),
    peers: replica.peers,
    held: (origin) => replica.heads.get(origin)?.seq ?? 0,
    counted: (vector) => countedVector(replica.state, vector),
    folded: (origin) =>
      origin === replica.origin ? replica.ownLog.nextSeq - 1 : (replica.tips.get(origin)?.seq ?? 0),
    send: (region, frame) => replica.link.send(region, frame),
    logger: replica.ports.logger,
  };
}

/** The JoiningHost of the replica's `joining`. */
export function joiningHost(replica: ReplicaNode): JoiningHost {
  return {
    cluster: replica.cluster,
    origin: replica.origin,
    store: replica.ports.store,
    crypto: replica.ports.crypto,
    clock: replica.ports.clock,
    logger: replica.ports.logger,
    observer: replica.ports.observer,
    peerKeys: replica.options.peerKeys,
    retentionMs: replica.options.idempotencyRetentionMs,
    peers: replica.peers,
    ownLog: replica.ownLog,
    link: () => replica.link,
    antiEntropy: () => replica.antiEntropy,
    heads: () => replica.heads,
    durableVersionVector: () => replica.reads.durableVersionVector(),
    recordWindow: () => replica.recordWindow(),
    recover: () => replica.recover(),
    joiner: () => replica.joiner,
    holds: (vector) => replica.reads.holdsAllOf(countedVector(replica.state, vector)),
  };
}

/** The GrantsHost of the replica's `grants`. */
export function grantsHost(replica: ReplicaNode): GrantsHost {
  return {
    origin: replica.origin,
    clock: replica.ports.clock,
    logger: replica.ports.logger,
    ownLog: replica.ownLog,
    heard: replica.heard,
    peers: replica.peers,
    deadlines: () => replica.deadlines,
    remote: () => replica.remote,
    rebalancing: () => replica.rebalancing,
    state: () => replica.state,
    admitWrite: (events) => replica.writability.admitWrite(events),
    balanceOrFail: (tenant) => replica.reads.balanceOrFail(tenant),
  };
}

/** The ForwardingHost of the replica's `forwarding`. */
export function forwardingHost(replica: ReplicaNode): ForwardingHost {
  return {
    setTimer: (ms, callback) => replica.ports.clock.setTimer(ms, callback),
    send: (region, frame) => replica.link.send(region, frame),
    settleHere: (command) => replica.commands.settleHold(command, false),
  };
}

/** The CommandsHost of the replica's `commands`. */
export function commandsHost(replica: ReplicaNode): CommandsHost {
  return {
    origin: replica.origin,
    region: replica.region,
    store: replica.ports.store,
    clock: replica.ports.clock,
    logger: replica.ports.logger,
    observer: replica.ports.observer,
    ownLog: replica.ownLog,
    rebalancing: replica.rebalancing,
    borrowing: replica.borrowing,
    forwarding: replica.forwarding,
    expiries: replica.expiries,
    keySpill: replica.keySpill,
    state: () => replica.state,
    policy: (tenant) => replica.control.policy(tenant),
    overdraftAllowed: () => replica.writability.overdraftAllowed(),
    closing: () => replica.closing,
    admitWrite: (events) => replica.writability.admitWrite(events),
    expireTenant: (tenant) => replica.deadlines.expireTenant(tenant),
    creditsReturned: (tenant) => replica.deadlines.creditsReturned(tenant),
    armExpiry: () => replica.deadlines.armExpiry(),
    balanceOrFail: (tenant) => replica.reads.balanceOrFail(tenant),
  };
}

/** The PeerLinkHost of the replica's `link`. */
export function linkHost(replica: ReplicaNode): PeerLinkHost {
  return {
    origin: replica.origin,
    knownRegions: replica.knownRegions,
    peers: replica.peers,
    clock: replica.ports.clock,
    logger: replica.ports.logger,
    observer: replica.ports.observer,
    ownLog: replica.ownLog,
    antiEntropy: replica.antiEntropy,
    rebalancing: replica.rebalancing,
    forwarding: replica.forwarding,
    archiving: replica.archiving,
    control: () => replica.control,
    heads: () => replica.heads,
    closing: () => replica.closing,
    broken: () => replica.broken !== null,
    logConfirmed: () => replica.writability.logConfirmed,
    overdraftWithheld: () => replica.writability.overdraftWithheld,
    recordHeard: (origins) => replica.writability.recordHeard(origins),
    noteHeard: (vector) => replica.writability.noteHeard(vector),
    checkCaughtUp: (region, theirs) => replica.writability.checkCaughtUp(region, theirs),
    checkLogWhole: () => replica.writability.checkLogWhole(),
    holdsAllOf: (vector) => replica.reads.holdsAllOf(vector),
    receiveRun: (region, frame) => replica.remote.receiveRun(region, frame),
    runLinkChanged: (region) => replica.remote.linkChanged(region),
    joinFrame: (region, frame) => replica.joining.received(region, frame),
    joinSummary: (region, vector) =>
      replica.joiner?.summary(region, vector, new Map([...replica.tips].map(([at, tip]) => [at, tip.seq]))),
    joining: () => replica.joiner?.joining === true,
    joinPeerDown: (region) => replica.joiner?.peerDown(region),
  };
}

/** The RemoteEventsHost of the replica's `remote`. */
export function remoteHost(replica: ReplicaNode): RemoteEventsHost {
  return {
    cluster: replica.cluster,
    region: replica.region,
    origin: replica.origin,
    peerKeys: replica.options.peerKeys,
    clock: replica.ports.clock,
    crypto: replica.ports.crypto,
    logger: replica.ports.logger,
    ownLog: replica.ownLog,
    link: replica.link,
    antiEntropy: replica.antiEntropy,
    borrowing: replica.borrowing,
    rebalancing: replica.rebalancing,
    commands: replica.commands,
    expiries: replica.expiries,
    grantConflicts: replica.grantConflicts,
    tips: replica.tips,
    state: () => replica.state,
    policy: (tenant) => replica.control.policy(tenant),
    logConfirmed: () => replica.writability.logConfirmed,
    overdraftAllowed: () => replica.writability.overdraftAllowed(),
    overdraftWithheld: () => replica.writability.overdraftWithheld,
    ownRetiredHeard: (retired) => {
      if (replica.ownRetired !== null) return;
      replica.ownRetired = retired;
      replica.writability.logConfirmed = false;
      replica.ports.logger.error(
        { origin: replica.origin, ...retired },
        ownRetiredLine(replica.origin, retired),
      );
    },
    ownRegionFolded: (origin) => {
      replica.writability.noteSuccessor(replica.successors.noteFolded(origin));
      void replica.writability.recordHeard([origin]); // an elder heard while newborn (recordHeard skips the rest)
    },
    scheduleExpiry: (tenant, definition) => replica.deadlines.scheduleExpiry(tenant, definition),
    armExpiry: () => replica.deadlines.armExpiry(),
    repay: (tenant) => replica.deadlines.repay(tenant),
    expireTenant: (tenant) => replica.deadlines.expireTenant(tenant),
  };
}
