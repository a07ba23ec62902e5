import BeamsyncPostgres
import BeamsyncTestSupport
import Foundation
import Testing

@Suite("LISTEN/NOTIFY and advisory locks", .requires(.postgres))
struct NotifyAndLockTests {
    @Test("a listener receives notifications in order; waiting times out with nil")
    func listenNotify() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let listener = try await db.connect()
            let sender = try await db.connect()
            try await listener.listen("beamsync events")
            #expect(try await listener.waitForNotification(timeout: .milliseconds(50)) == nil)

            try await sender.notify("beamsync events", payload: "first")
            try await sender.execute(#"NOTIFY "beamsync events", 'second'"#)
            let first = try await listener.waitForNotification(timeout: .seconds(5))
            let second = try await listener.waitForNotification(timeout: .seconds(5))
            #expect(first?.payload == "first")
            #expect(first?.channel == "beamsync events")
            #expect(first?.senderPID == sender.backendPID)
            #expect(second?.payload == "second")

            // A notification sent inside a transaction arrives only after COMMIT.
            try await sender.transaction { tx in
                try await tx.notify("beamsync events", payload: "committed")
                #expect(try await listener.waitForNotification(timeout: .milliseconds(100)) == nil)
            }
            #expect(try await listener.waitForNotification(timeout: .seconds(5))?.payload == "committed")
        }
    }

    @Test("a cancelled wait for notifications stops promptly")
    func cancelledWait() async throws {
        try await TestDatabase.withConnection { conn in
            try await conn.listen("never")
            let task = Task { try await conn.waitForNotification(timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(100))
            let started = ContinuousClock.now
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(ContinuousClock.now - started < .seconds(2))
            #expect(try await conn.query("SELECT 1 AS one").single().int("one") == 1)
        }
    }

    @Test("the lock key for a name is PostgreSQL's hashtextextended(name, 0)")
    func lockKey() async throws {
        try await TestDatabase.withConnection { conn in
            let key = try await conn.advisoryLockKey(for: "beampipe:default-profile:<global>")
            let expected = try await conn.query("SELECT hashtextextended('beampipe:default-profile:<global>', 0) AS k")
                .single().int64("k")
            #expect(key == expected)
            #expect(try await conn.advisoryLockKey(for: "a") != conn.advisoryLockKey(for: "b"))
        }
    }

    @Test("a session advisory lock serialises two connections")
    func sessionLockSerialises() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let a = try await db.connect()
            let b = try await db.connect()
            let key: Int64 = 42
            try await a.advisoryLock(key: key)
            #expect(try await b.advisoryLock(key: key, wait: false) == false)
            await #expect(throws: PGConnection.LockNotAcquired.self) {
                try await b.withAdvisoryLock(key: key, wait: false) { _ in }
            }

            // b blocks until a releases; record the order both sides observe.
            let order = Order()
            let waiter = Task {
                try await b.withAdvisoryLock(key: key) { _ in await order.append("b locked") }
            }
            try await Task.sleep(for: .milliseconds(200))
            await order.append("a unlocking")
            try await a.advisoryUnlock(key: key)
            try await waiter.value
            #expect(await order.events == ["a unlocking", "b locked"])
            // withAdvisoryLock released it again.
            #expect(try await a.advisoryLock(key: key, wait: false))
        }
    }

    @Test("a transaction advisory lock is released at commit")
    func xactLock() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let a = try await db.connect()
            let b = try await db.connect()
            try await a.transaction { tx in
                try await tx.advisoryXactLock(key: 7)
                #expect(try await b.advisoryLock(key: 7, wait: false) == false)
            }
            #expect(try await b.advisoryLock(key: 7, wait: false))
        }
    }
}

actor Order {
    var events: [String] = []
    func append(_ event: String) { events.append(event) }
}
