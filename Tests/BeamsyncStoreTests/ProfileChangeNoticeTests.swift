import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Testing

@Suite("Profile change notices", .requires(.postgres))
struct ProfileChangeNoticeTests {
    private func insertProfile(_ name: String, on conn: PGConnection) async throws {
        try await conn.query("INSERT INTO daliuge_deployment_profile (name) VALUES ($1)", [.text(name)])
    }

    private func notices(on listener: PGConnection, within timeout: Duration) async throws -> Int {
        var count = 0
        while try await listener.waitForNotification(timeout: count == 0 ? timeout : .milliseconds(200)) != nil { count += 1 }
        return count
    }

    @Test("a write from an ordinary session notifies from the trigger; one from a session that announces after commit does not")
    func announcingSessionsSkipTheTrigger() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let listener = try await db.connect()
            try await Migrator.beamsync.migrate(listener)
            try await listener.listen(ProfileChangeNotices.channel)

            let ordinary = try await db.connect()
            try await insertProfile("by-psql", on: ordinary)
            #expect(try await notices(on: listener, within: .seconds(2)) == 1)

            let announcing = try await db.connect(overrides: ProfileChangeNotices.announcedAfterCommit)
            try await insertProfile("by-api", on: announcing)
            try await announcing.query("UPDATE daliuge_deployment_profile SET description = 'x' WHERE name = 'by-api'")
            #expect(try await notices(on: listener, within: .milliseconds(500)) == 0, "the trigger stays silent for it")

            try await announcing.query(ProfileChangeNotices.announceSQL)
            #expect(try await notices(on: listener, within: .seconds(2)) == 1, "its announcement arrives")
            await ordinary.close()
            await announcing.close()
            await listener.close()
        }
    }
}
