import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// A send that blocks until released, counting how often it ran.
private final class GatedSend: @unchecked Sendable {
    private let lock = NSLock()
    private var sends = 0
    private var gate: CheckedContinuation<Void, Never>?
    private var open = false

    var count: Int { lock.withLock { sends } }

    func send() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let proceed = lock.withLock {
                sends += 1
                if open { return true }
                gate = c
                return false
            }
            if proceed { c.resume() }
        }
    }

    /// Lets the blocked send (and every later one) finish.
    func release() {
        let waiting = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            open = true
            defer { gate = nil }
            return gate
        }
        waiting?.resume()
    }
}

@Suite("Announcing profile changes")
struct ProfileChangeAnnouncerTests {
    @Test("writes announced while an announcement is on its way are covered by exactly one more")
    func coalescesWhileSending() async throws {
        let gated = GatedSend()
        let announcer = ProfileChangeAnnouncer(send: { await gated.send() })
        announcer.announce()
        #expect(try await eventuallyTrue { gated.count == 1 })
        for _ in 0..<50 { announcer.announce() }
        gated.release()
        await announcer.settled()
        #expect(gated.count == 2)

        announcer.announce()
        await announcer.settled()
        #expect(gated.count == 3, "a write after everything settled is announced again")
    }

    @Test("a failed announcement is reported and does not stop later ones")
    func failuresAreReported() async throws {
        struct Lost: Error, CustomStringConvertible { var description: String { "server closed the connection" } }
        let record = Record()
        let announcer = ProfileChangeAnnouncer(send: {
            if record.attempt() == 1 { throw Lost() }
        }, onError: { record.error($0) })
        announcer.announce()
        await announcer.settled()
        announcer.announce()
        await announcer.settled()
        #expect(record.attempts == 2)
        #expect(record.errors == ["server closed the connection"])
    }

    @Test("a burst of concurrent API writes reaches listeners as fewer notifications than writes", .requires(.postgres))
    func burstIsCoalesced() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let listener = try await db.connect()
            try await Migrator.beamsync.migrate(listener)
            try await listener.listen(ProfileChangeNotices.channel)
            let pool = PGPool(conninfo: db.url, overrides: ProfileChangeNotices.announcedAfterCommit, maxConnections: 8)
            let service = ProfileService(pool: pool)
            let writes = 40
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<writes {
                    group.addTask {
                        let body = """
                            {"name": "burst-\(i)", "project_module": "burst", "is_default": false,
                             "translation": {"algo": "metis", "num_par": 2},
                             "deployment": {"kind": "rest_remote", "deploy_host": "dim.example.org", "deploy_port": 8001}}
                            """
                        _ = try await service.create(body: Array(body.utf8), actor: AuditActor(name: "test"))
                    }
                }
                try await group.waitForAll()
            }
            await service.announcer.settled()
            var notices = 0
            while try await listener.waitForNotification(timeout: notices == 0 ? .seconds(2) : .milliseconds(300)) != nil { notices += 1 }
            #expect(notices >= 1, "the burst is announced")
            #expect(notices < writes, "\(notices) notifications for \(writes) writes")
            await pool.close()
            await listener.close()
        }
    }
}

private final class Record: @unchecked Sendable {
    private let lock = NSLock()
    private var attemptCount = 0
    private var messages: [String] = []
    func attempt() -> Int { lock.withLock { attemptCount += 1; return attemptCount } }
    func error(_ message: String) { lock.withLock { messages.append(message) } }
    var attempts: Int { lock.withLock { attemptCount } }
    var errors: [String] { lock.withLock { messages } }
}

/// Polls `condition` every 10 ms for up to 5 s.
private func eventuallyTrue(_ condition: () -> Bool) async throws -> Bool {
    for _ in 0..<500 {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
