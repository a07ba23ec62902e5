import BeamsyncModel
import BeamsyncOperations
import BeamsyncPlan
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTime
import Foundation
import Logging

/// What one reconcile did.
public enum ReconcileOutcome: Sendable, Equatable {
    case notLeader
    case suspended
    /// Same commit, same live state: nothing read beyond two small queries, nothing written.
    case upToDate(revision: String)
    /// A failed revision waits for its next attempt.
    case backingOff(revision: String, until: Date)
    case applied(revision: String, changes: Int, triggered: Int)
    case failed(reason: StatusReason, message: String)

    public var label: String {
        switch self {
        case .notLeader: "not_leader"
        case .suspended: "suspended"
        case .upToDate: "no_op"
        case .backingOff: "backoff"
        case .applied(_, let changes, let triggered): changes + triggered == 0 ? "no_op" : "applied"
        case .failed: "failed"
        }
    }
}

public struct ControllerOptions: Sendable {
    public var interval: Duration = .seconds(180)
    public var backoff = Backoff()
    /// Command-line overrides of beamsync.yaml's policy.
    public var overrides = PolicyOverrides()
    public var actor: AuditActor = .controller
    /// How long the leader-election session waits between attempts to take the lock.
    public var electionRetry: Duration = .seconds(2)
    /// How this replica names itself in heartbeats and the status.
    public var identity: String = ControllerRegistry.localIdentity()
    /// A standby replica records its heartbeat at most this often (the leader does on every pass).
    public var standbyHeartbeat: Duration = .seconds(30)

    public init() {}
}

/// The reconcile loop for one source: fetch → plan → apply (the same code path as the CLI) →
/// record status. One replica applies (leader election); webhooks and `beamsync reconcile` only
/// wake it early — correctness comes from polling.
public actor Controller {
    public let source: any DesiredSource
    public let options: ControllerOptions
    public let metrics: ControllerMetrics
    private let conninfo: String
    private let logger: Logger
    private let election: LeaderElection
    private let cache: ParsedFileCache
    private var connection: PGConnection?
    private var sourceID: Int64?
    private let wakeups: AsyncStream<SyncTrigger>
    private let wakeContinuation: AsyncStream<SyncTrigger>.Continuation
    private let clock: any WallClock
    private let startedAt: Date
    private var lastStandbyHeartbeat: Date?
    public private(set) var lastOutcome: ReconcileOutcome?
    public private(set) var lastReconcileAt: Date?

    public init(source: any DesiredSource, conninfo: String, options: ControllerOptions = .init(),
                metrics: ControllerMetrics = ControllerMetrics(), logger: Logger = Logger(label: "beamsync.controller"),
                cache: ParsedFileCache = ParsedFileCache(), clock: any WallClock = SystemWallClock()) {
        self.source = source
        self.cache = cache
        self.conninfo = conninfo
        self.options = options
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        self.election = LeaderElection(conninfo: conninfo, retryInterval: options.electionRetry, logger: logger,
                                       onChange: { metrics.leader($0) })
        (wakeups, wakeContinuation) = AsyncStream.makeStream(of: SyncTrigger.self, bufferingPolicy: .bufferingNewest(1))
        startedAt = clock.now()
        metrics.leader(false)
    }

    /// Asks for a reconcile as soon as possible (webhooks, `beamsync reconcile`). Only a hint;
    /// `trigger` is what the run it leads to records.
    public nonisolated func wake(_ trigger: SyncTrigger = .webhook) { wakeContinuation.yield(trigger) }

    public var isLeader: Bool { get async { await election.isLeader } }

    /// A webhook's wake-up, recorded where the leader sees it: in the database (the source's
    /// `reconcile_requested_at` and `NOTIFY beamsync_reconcile`, which every controller listens
    /// for), so it is not lost when it reaches a follower. The leader also wakes its own loop at
    /// once. Throws only when a follower could not record it.
    public func requestReconcile() async throws {
        let leading = await election.isLeader
        if leading { wake() }
        do {
            let conn = try await PGConnection.connect(conninfo: conninfo, overrides: ["application_name": "beamsync-wake"])
            defer { Task { await conn.close() } }
            try await SourceStatusStore(conn: conn).requestReconcile(url: source.identity.url)
        } catch {
            if !leading { throw error }
        }
    }

    // MARK: Loop

    /// Runs until the task is cancelled; each pass checks leadership, reconciles when leading,
    /// then sleeps for the jittered interval (or until woken, or until a backoff ends).
    public func run(shouldStop: @escaping @Sendable () -> Bool = { Task.isCancelled }) async {
        let listener = Task { await self.listenForRequests() }
        defer { listener.cancel() }
        var iterator = wakeups.makeAsyncIterator()
        var trigger = SyncTrigger.start
        var leading = false
        while !shouldStop() {
            var wait = options.interval.jittered(by: 0.1)
            if await election.check() {
                // The first pass after start-up or a take-over is a `start`, whatever woke the loop.
                let outcome = await reconcile(trigger: leading ? trigger : .start)
                leading = true
                if case .backingOff(_, let until) = outcome { wait = min(wait, delay(until: until)) }
                if case .failed = outcome, let next = try? await nextAttemptDelay() { wait = min(wait, next) }
            } else {
                leading = false
                await standbyHeartbeat()
                wait = min(wait, await election.interval)
            }
            if shouldStop() { break }
            trigger = await sleepOrWake(wait, &iterator)
        }
        await close()
    }

    /// Gives up leadership, leaves the replica list and closes the connections (`run` does this
    /// when it ends). A replica that dies instead stays listed until its heartbeat is stale.
    public func close() async {
        await election.resign()
        if let conn = connection, !conn.isBroken { try? await ControllerRegistry(conn: conn).leave(identity: options.identity) }
        await connection?.close()
        connection = nil
    }

    /// Sleeps until `duration` passes (a poll) or someone wakes the loop; returns which.
    private func sleepOrWake(_ duration: Duration, _ iterator: inout AsyncStream<SyncTrigger>.Iterator) async -> SyncTrigger {
        // A cancelled timer must not wake the loop: only a finished sleep yields.
        let timer = Task { [clock] in
            do {
                try await clock.sleep(for: duration)
                self.wake(.poll)
            } catch {}
        }
        let trigger = await iterator.next(isolation: #isolation)
        timer.cancel()
        return trigger ?? .poll
    }

    /// A standby's heartbeat, at most every `standbyHeartbeat`: the status lists every replica.
    private func standbyHeartbeat() async {
        let now = clock.now()
        if let last = lastStandbyHeartbeat, now.timeIntervalSince(last) < options.standbyHeartbeat.inSeconds { return }
        do {
            try await ControllerRegistry(conn: try await database())
                .beat(identity: options.identity, startedAt: startedAt, leader: false, interval: options.interval)
            lastStandbyHeartbeat = now
        } catch {
            await connection?.close()
            connection = nil
            logger.warning("heartbeat failed", metadata: ["error": .string("\(error)")])
        }
    }

    /// `beamsync reconcile` sends NOTIFY beamsync_reconcile; a dedicated session listens for it.
    private func listenForRequests() async {
        while !Task.isCancelled {
            do {
                let conn = try await PGConnection.connect(conninfo: conninfo, overrides: ["application_name": "beamsync-listener"])
                try await conn.listen(SourceStatusStore.reconcileChannel)
                while !Task.isCancelled {
                    if try await conn.waitForNotification(timeout: .seconds(5)) != nil { wake(.manual) }
                }
                await conn.close()
            } catch {
                try? await Task.sleep(for: .seconds(2))
            }
        }
    }

    private func nextAttemptDelay() async throws -> Duration? {
        guard let id = sourceID, let conn = connection, let status = try await SourceStatusStore(conn: conn).get(id: id),
              let next = status.nextAttemptAt else { return nil }
        return delay(until: next)
    }

    /// The time from now until `date`, at least 50 ms (a past date means "soon", never a hot loop).
    private func delay(until date: Date) -> Duration {
        .fromSeconds(max(date.timeIntervalSince(clock.now()), 0.05))
    }

    // MARK: One reconcile

    /// One pass; `trigger` is recorded with the run (a pending `beamsync reconcile` request makes it `manual`).
    @discardableResult
    public func reconcile(trigger: SyncTrigger = .manual) async -> ReconcileOutcome {
        guard await election.check() else { return record(.notLeader, seconds: 0) }
        let started = clock.now()
        let outcome: ReconcileOutcome
        do {
            outcome = try await reconcileAsLeader(started: started, trigger: trigger)
        } catch {
            // The database went away mid-reconcile: reconnect next time; the apply, if any, rolled back.
            await connection?.close()
            connection = nil
            let message = SecretRedaction.redact("\(error)")
            logger.error("reconcile failed", metadata: ["error": .string(message)])
            outcome = .failed(reason: .applyFailed, message: message)
        }
        return record(outcome, seconds: clock.now().timeIntervalSince(started))
    }

    private func record(_ outcome: ReconcileOutcome, seconds: Double) -> ReconcileOutcome {
        if case .applied = outcome { MemoryHygiene.returnFreedMemory() }
        lastOutcome = outcome
        lastReconcileAt = clock.now()
        if outcome != .notLeader { metrics.reconciled(result: outcome.label, seconds: seconds) }
        return outcome
    }

    private func database() async throws -> PGConnection {
        if let c = connection, !c.isBroken { return c }
        let c = try await PGConnection.connect(conninfo: conninfo, overrides: ["application_name": "beamsync-controller"])
        try await Migrator.beamsync.migrateIfPending(c)
        connection = c
        return c
    }

    private func reconcileAsLeader(started: Date, trigger passTrigger: SyncTrigger) async throws -> ReconcileOutcome {
        let conn = try await database()
        let store = SourceStatusStore(conn: conn)
        let identity = source.identity
        // Every pass is the source's heartbeat and this replica's (one statement).
        let pass = { (id: Int64) in
            try await store.markPass(id: id, by: self.options.identity, startedAt: self.startedAt, interval: self.options.interval)
        }
        let status: SourceStatus
        if let id = sourceID, let s = try await pass(id) {
            status = s
        } else {
            let registered = try await store.register(url: identity.url, branch: identity.branch, path: identity.path)
            sourceID = registered.id
            status = try await pass(registered.id) ?? registered
            try await restoreGauges(conn, status)
            try await ControllerRegistry(conn: conn).forgetSilent()
        }
        let trigger = status.reconcileRequestedAt != nil ? .manual : passTrigger
        if status.suspended { return .suspended }

        // Fetch: the remote may be gone or stalled; the applied state stays as it is.
        let fetchStart = clock.now()
        let revision: String
        do {
            revision = try await source.latestRevision()
            metrics.fetched(ok: true, seconds: clock.now().timeIntervalSince(fetchStart))
        } catch {
            metrics.fetched(ok: false, seconds: clock.now().timeIntervalSince(fetchStart))
            return try await fail(store, status, revision: nil, reason: .fetchFailed,
                                  message: "fetching \(RedactedURL.text(identity.url)) failed: \(error)", started: started, trigger: trigger)
        }

        // Backoff belongs to a revision that failed to read or apply. A fetch that works again
        // ends the backoff its failures built up: the source is reconciled at once, not when it expires.
        let fetchRecovered = status.reason == .fetchFailed
        let liveVersion = try await store.liveVersion()
        let requested = status.reconcileRequestedAt != nil
        if !requested, status.status == .ready, revision == status.lastAppliedRevision, liveVersion == status.lastLiveVersion {
            return .upToDate(revision: revision)
        }
        if !requested, !fetchRecovered, status.failures > 0, revision == status.lastAttemptedRevision,
           let next = status.nextAttemptAt, next > clock.now() {
            return .backingOff(revision: revision, until: next)
        }
        let failuresSoFar = revision == status.lastAttemptedRevision && !fetchRecovered ? status.failures : 0

        try await store.setStatus(id: status.id, .reconciling, reason: .progressing, message: "reconciling \(revision)")
        // Signatures first: nothing of an unverified revision is parsed.
        let verified: VerifiedRevision?
        do {
            verified = try await source.verifyCommits(revision: revision, lastApplied: status.lastAppliedRevision)
        } catch {
            return try await fail(store, status, revision: revision, reason: .verificationFailed, message: "\(error)",
                                  failures: failuresSoFar, started: started, trigger: trigger)
        }
        let parsed: ParsedSource
        do {
            let snapshot = try await source.snapshot(at: revision)
            // Parsed before the apply lock is taken; only the cross-document checks run under it.
            parsed = ParsedSource(snapshot, cache: cache)
            cache.retain(onlyFilesOf: snapshot.files)
            metrics.parseCache(entries: cache.count, packedBytes: cache.packedBytes)
        } catch {
            return try await fail(store, status, revision: revision, reason: .readFailed, message: "reading \(revision) failed: \(error)",
                                  failures: failuresSoFar, started: started, trigger: trigger)
        }
        let label = parsed.snapshot.label
        let commit = parsed.snapshot.commit
        let plan: Plan
        let result: ApplyResult
        do {
            (plan, result) = try await Reconciliation(conn: conn).apply(parsed, overrides: options.overrides, actor: options.actor,
                                                                        revision: revision)
        } catch let rejected as DesiredStateRejected {
            let errors = rejected.diagnostics.errors
            let message = "\(errors.count) error\(errors.count == 1 ? "" : "s") at \(label): "
                + errors.prefix(5).map(\.description).joined(separator: "; ")
            return try await fail(store, status, revision: revision, reason: .validationFailed, message: message,
                                  failures: failuresSoFar, started: started, trigger: trigger, commit: commit)
        } catch let rejected as PlanRejected {
            let message = rejected.plan.diagnostics.errors.prefix(5).map(\.description).joined(separator: "; ")
            return try await fail(store, status, revision: revision, reason: .planFailed, message: message, failures: failuresSoFar,
                                  started: started, trigger: trigger, commit: commit)
        } catch let error as PostgresError where error.isConnectionLost {
            throw error
        } catch {
            return try await fail(store, status, revision: revision, reason: .applyFailed, message: "\(error)", failures: failuresSoFar,
                                  started: started, trigger: trigger, commit: commit)
        }

        let summary = plan.summary
        let changes = summary.create + summary.update + summary.delete
        let drifted = plan.remainingDrift.map { DriftedObject(kind: $0.kind, name: $0.name, fields: $0.driftedFields ?? []) }
        var message = changes + summary.trigger == 0
            ? "\(label) is applied; no changes"
            : "applied \(label): \(summary.create) created, \(summary.update) changed, \(summary.delete) deleted, \(summary.trigger) executions triggered"
        if !drifted.isEmpty { message += "; \(drifted.count) object\(drifted.count == 1 ? "" : "s") changed outside git" }
        if let verified { message += "; " + verified.summary }
        message = SecretRedaction.redact(message)
        let run = SyncRun(
            revision: revision, startedAt: started, finishedAt: clock.now(), result: changes + summary.trigger == 0 ? .noOp : .applied,
            summary: .object(["create": .int(Int64(summary.create)), "update": .int(Int64(summary.update)),
                              "delete": .int(Int64(summary.delete)), "trigger": .int(Int64(summary.trigger)),
                              "drift": .int(Int64(summary.drifted)),
                              "signatures": .array((verified?.signers ?? []).map(JSONValue.string))]),
            error: nil, trigger: trigger)
        // Status, drift and history together: a reader never sees a new revision with old drift.
        try await conn.transaction { tx in
            let store = SourceStatusStore(conn: tx)
            try await store.recordSuccess(id: status.id, revision: revision, liveVersion: try await store.liveVersion(),
                                          reason: changes + summary.trigger == 0 ? .upToDate : .applied, message: message, commit: commit)
            try await DriftStore(conn: tx).replace(sourceID: status.id, revision: revision, with: drifted)
            try await store.recordRun(sourceID: status.id, run)
        }
        metrics.drift(count: drifted.count)
        for kind in DocumentKind.allCases {
            metrics.objects(kind: kind.rawValue, count: plan.changes.filter { $0.kind == kind && $0.action != .delete }.count)
        }
        logger.info("reconciled", metadata: ["revision": .string(revision), "result": .string(message)])
        return .applied(revision: revision, changes: changes, triggered: result.triggered)
    }

    /// Records a failed pass. Every failure message leaves through here, redacted once for the
    /// database, the log and the status page alike.
    private func fail(_ store: SourceStatusStore, _ status: SourceStatus, revision: String?, reason: StatusReason, message raw: String,
                      failures previous: Int? = nil, started: Date, trigger: SyncTrigger, commit: CommitDescription? = nil) async throws -> ReconcileOutcome {
        let message = SecretRedaction.redact(raw)
        let failures = (previous ?? status.failures) + 1
        let next = clock.now().addingTimeInterval(options.backoff.delay(afterFailures: failures).inSeconds)
        try await store.recordFailure(id: status.id, revision: revision, reason: reason, message: message, failures: failures, nextAttempt: next,
                                      commit: commit)
        try await store.recordRun(sourceID: status.id, SyncRun(revision: revision ?? status.lastAttemptedRevision, startedAt: started,
                                                               finishedAt: clock.now(), result: .failed, summary: nil, error: message,
                                                               trigger: trigger))
        logger.warning("reconcile failed", metadata: ["reason": .string(reason.rawValue), "message": .string(message),
                                                      "retry_in_ms": .string("\(Int(next.timeIntervalSince(clock.now()) * 1000))")])
        return .failed(reason: reason, message: message)
    }
}

extension Controller {
    /// The gauges that describe the database, not this process, start from what it records: a
    /// restarted controller whose first pass is a no-op must not report 0 drift.
    func restoreGauges(_ conn: PGConnection, _ status: SourceStatus) async throws {
        metrics.drift(count: status.driftCount ?? 0)
        let counts = try await StatusQueries(conn: conn).inventoryCounts()
        for kind in DocumentKind.allCases { metrics.objects(kind: kind.rawValue, count: counts[kind.rawValue] ?? 0) }
    }
}

/// A long-running controller parses and plans 10,000 documents per changed commit; glibc keeps the
/// freed memory in per-thread arenas unless told otherwise. Fewer arenas, fixed thresholds and an
/// explicit trim keep the resident size close to what is actually in use.
public enum MemoryHygiene {
    /// Call once at start-up, before threads are created.
    ///
    /// - Two arenas instead of eight per core.
    /// - Fixed mmap and trim thresholds (1 MiB). By default glibc raises its mmap threshold to the
    ///   size of any large block that is freed, and the trim threshold to twice that: once a big
    ///   apply frees its multi-megabyte plan arrays, up to ~10 MB of a thread arena's top stays
    ///   resident, and `malloc_trim` never releases a thread arena's top. That was the difference
    ///   between 58 and 66 MB at 10,000 profiles. Fixing them keeps every block over 1 MiB in its
    ///   own mapping (returned on free) and an arena's top at most 1 MiB.
    public static func configureAllocator() {
        #if os(Linux)
        _ = glibc_mallopt(-8 /* M_ARENA_MAX */, 2)
        _ = glibc_mallopt(-3 /* M_MMAP_THRESHOLD */, 1 << 20)
        _ = glibc_mallopt(-1 /* M_TRIM_THRESHOLD */, 1 << 20)
        #endif
    }

    public static func returnFreedMemory() {
        #if os(Linux)
        _ = glibc_malloc_trim(0)
        #endif
    }
}

// <malloc.h> is not part of Swift's Glibc module; both are plain C functions taking ints.
#if os(Linux)
@_silgen_name("mallopt") private func glibc_mallopt(_ parameter: Int32, _ value: Int32) -> Int32
@_silgen_name("malloc_trim") private func glibc_malloc_trim(_ pad: Int) -> Int32
#endif
