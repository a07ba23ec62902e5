import BeamsyncPostgres
import BeamsyncTestSupport
import Foundation
import Testing

@Suite("The PostgreSQL connection pool", .requires(.postgres))
struct PoolTests {
    @Test("never lends more than N connections at once; waiters get them in turn")
    func boundedConcurrency() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let pool = PGPool(conninfo: db.url, maxConnections: 3)
            let gauge = Gauge()
            let pids = try await withThrowingTaskGroup(of: Int32.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        try await pool.withConnection { conn in
                            await gauge.enter()
                            try await conn.query("SELECT pg_sleep(0.05)")
                            await gauge.leave()
                            return conn.backendPID
                        }
                    }
                }
                return try await group.reduce(into: Set<Int32>()) { $0.insert($1) }
            }
            #expect(await gauge.peak == 3)
            #expect(pids.count <= 3)
            #expect(await pool.openConnections <= 3)
            await pool.close()
        }
    }

    @Test("a broken connection is discarded and replaced")
    func brokenConnectionReplaced() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let pool = PGPool(conninfo: db.url, maxConnections: 1)
            let firstPID = try await pool.withConnection { $0.backendPID }
            let admin = try await db.connect()
            try await admin.query("SELECT pg_terminate_backend($1::int)", [.int(Int64(firstPID))])
            // The next user of the dead session sees the loss; the one after gets a fresh session.
            let error = try await #require(throws: PostgresError.self) {
                try await pool.withConnection { try await $0.query("SELECT 1") }
            }
            #expect(error.isConnectionLost)
            let secondPID = try await pool.withConnection { conn in
                try await conn.query("SELECT pg_backend_pid() AS pid").single().int("pid")
            }
            #expect(Int32(secondPID) != firstPID)
            #expect(await pool.openConnections == 1)
        }
    }

    @Test("a connection returned with an open transaction is not reused")
    func openTransactionDiscarded() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let pool = PGPool(conninfo: db.url, maxConnections: 1)
            let leakedPID = try await pool.withConnection { conn in
                try await conn.execute("BEGIN")
                return conn.backendPID
            }
            let (pid, inTransaction) = try await pool.withConnection { ($0.backendPID, $0.isInTransaction) }
            #expect(pid != leakedPID)
            #expect(!inTransaction)
        }
    }

    @Test("a failed connect frees its slot")
    func failedConnectFreesSlot() async throws {
        let pool = PGPool(conninfo: try TestDatabase.serverURL(), overrides: ["dbname": "no_such_database_\(UUID().uuidString.prefix(8))"],
                          maxConnections: 1)
        for _ in 0..<3 {
            let error = try await #require(throws: PostgresError.self) { try await pool.withConnection { _ in } }
            #expect(error.kind == .connectionFailed)
        }
        #expect(await pool.openConnections == 0)
    }
}

actor Gauge {
    private(set) var current = 0
    private(set) var peak = 0
    func enter() { current += 1; peak = max(peak, current) }
    func leave() { current -= 1 }
}
