/// A small async connection pool: at most `maxConnections` sessions, callers beyond that wait in
/// FIFO order. A connection that comes back broken, or with a transaction still open, is closed
/// and its slot freed for a fresh one, so one dead session never poisons later callers.
public final class PGPool: Sendable {
    public let conninfo: String
    public let overrides: [String: String]
    public let maxConnections: Int
    private let slots: PoolSlots

    public init(conninfo: String, overrides: [String: String] = [:], maxConnections: Int = 4) {
        precondition(maxConnections > 0, "a pool needs at least one connection")
        self.conninfo = conninfo
        self.overrides = overrides
        self.maxConnections = maxConnections
        self.slots = PoolSlots(maxConnections: maxConnections) {
            try await PGConnection.connect(conninfo: conninfo, overrides: overrides)
        }
    }

    /// Lends a connection to `body` and takes it back afterwards, whatever `body` does.
    /// Runs `body` in the caller's isolation.
    @discardableResult
    public func withConnection<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PGConnection) async throws -> T
    ) async throws -> T {
        let connection = try await slots.acquire()
        do {
            let value = try await body(connection)
            await slots.release(connection)
            return value
        } catch {
            await slots.release(connection)
            throw error
        }
    }

    /// Connections currently open (idle or lent out); for tests and metrics.
    public var openConnections: Int { get async { await slots.openConnections } }

    /// Closes idle connections and refuses new work; lent-out ones close when returned.
    public func close() async { await slots.close() }
}

/// The pool's bookkeeping, serialised by the actor.
private actor PoolSlots {
    private let maxConnections: Int
    private let connect: @Sendable () async throws -> PGConnection

    private var idle: [PGConnection] = []
    /// Connections open or being opened, idle or lent out.
    private var total = 0
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<PGConnection?, Error>)] = []
    private var nextWaiterID: UInt64 = 0
    private var closed = false

    init(maxConnections: Int, connect: @escaping @Sendable () async throws -> PGConnection) {
        self.maxConnections = maxConnections
        self.connect = connect
    }

    var openConnections: Int { total }

    func close() async {
        closed = true
        let toClose = idle
        idle.removeAll()
        total -= toClose.count
        for waiter in waiters { waiter.continuation.resume(throwing: PostgresError.usage("the connection pool is closed")) }
        waiters.removeAll()
        for connection in toClose { await connection.close() }
    }

    func acquire() async throws -> PGConnection {
        if closed { throw PostgresError.usage("the connection pool is closed") }
        while let connection = idle.popLast() {
            if !connection.isBroken { return connection }
            total -= 1
        }
        if total < maxConnections {
            return try await open()
        }
        let id = nextWaiterID
        nextWaiterID += 1
        // nil means "a slot was freed: open your own connection".
        let handed = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiters.append((id, continuation))
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
        if let handed { return handed }
        return try await open(slotReserved: true)
    }

    private func open(slotReserved: Bool = false) async throws -> PGConnection {
        if !slotReserved { total += 1 }
        do {
            return try await connect()
        } catch {
            freeSlot()
            throw error
        }
    }

    func release(_ connection: PGConnection) async {
        if closed || connection.isBroken || connection.isInTransaction {
            freeSlot()
            await connection.close()
            return
        }
        if !waiters.isEmpty {
            waiters.removeFirst().continuation.resume(returning: connection)
        } else {
            idle.append(connection)
        }
    }

    /// A slot became free: hand it to the first waiter (who opens a connection) or forget it.
    private func freeSlot() {
        if !waiters.isEmpty && !closed {
            waiters.removeFirst().continuation.resume(returning: nil)
        } else {
            total -= 1
        }
    }

    private func cancelWaiter(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: CancellationError())
    }
}
