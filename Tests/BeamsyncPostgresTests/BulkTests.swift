import BeamsyncPostgres
import BeamsyncTestSupport
import Foundation
import Testing

@Suite("COPY and pipeline mode", .requires(.postgres))
struct BulkTests {
    @Test("COPY of 10,000 rows with tabs, newlines, backslashes and NULLs round-trips exactly")
    func copyRoundTrip() async throws {
        try await TestDatabase.withConnection { conn in
            try await conn.execute("CREATE TABLE bulk (id BIGINT PRIMARY KEY, body TEXT, flag BOOLEAN, doc JSONB)")
            let tricky = ["a\tb", "line1\nline2", "back\\slash", "\\N", "\\.", "cr\r\nlf", "ünïcødé 🚀", "", "\\t literal"]
            let rows: [[PGValue?]] = (0..<10_000).map { i in
                let body: PGValue? = i % 10 == 9 ? nil : .text(tricky[i % tricky.count] + " #\(i)")
                return [.int(i), body, i % 3 == 0 ? nil : .bool(i % 2 == 0), i % 5 == 0 ? .json(#"{"i": \#(i)}"#) : nil]
            }
            let copied = try await conn.copyIn(table: "bulk", columns: ["id", "body", "flag", "doc"], rows: rows)
            #expect(copied == 10_000)

            let back = try await conn.query("SELECT id, body, flag, doc->>'i' AS doc_i FROM bulk ORDER BY id").rows
            #expect(back.count == 10_000)
            for (i, row) in back.enumerated() {
                let expected = rows[i]
                #expect(try row.optionalString("body") == expected[1]?.textValue)
                #expect(try row.optionalBool("flag") == (i % 3 == 0 ? nil : i % 2 == 0))
                #expect(try row.optionalInt("doc_i") == (i % 5 == 0 ? i : nil))
            }
        }
    }

    @Test("COPY into a schema-qualified table; a bad row aborts the whole COPY")
    func copyFailureIsAtomic() async throws {
        try await TestDatabase.withConnection { conn in
            try await conn.execute("CREATE SCHEMA s; CREATE TABLE s.t (id INT PRIMARY KEY)")
            #expect(try await conn.copyIn(table: "s.t", columns: ["id"], rows: [[1], [2]]) == 2)
            let error = try await #require(throws: PostgresError.self) {
                try await conn.copyIn(table: "s.t", columns: ["id"], rows: [[3], [1]])
            }
            #expect(error.isUniqueViolation)
            #expect(try await conn.query("SELECT count(*) AS n FROM s.t").single().int("n") == 2)
            #expect(!conn.isBroken)
        }
    }

    @Test("a pipeline of 1,000 statements returns every result in order")
    func pipelineOrder() async throws {
        try await TestDatabase.withConnection { conn in
            try await conn.execute("CREATE TABLE p (id INT PRIMARY KEY, v TEXT)")
            var batch: [(sql: String, params: [PGValue?])] = []
            for i in 0..<1_000 {
                if i % 2 == 0 {
                    batch.append(("INSERT INTO p VALUES ($1, $2) RETURNING id", [.int(i), .text("v\(i)")]))
                } else {
                    batch.append(("SELECT $1::int * 2 AS double", [.int(i)]))
                }
            }
            let results = try await conn.pipeline(batch)
            #expect(results.count == 1_000)
            for (i, result) in results.enumerated() {
                if i % 2 == 0 {
                    #expect(try result.single().int("id") == i)
                } else {
                    #expect(try result.single().int("double") == i * 2)
                }
            }
        }
    }

    @Test("an error in the middle of a pipeline is reported with its index and rolls the batch back")
    func pipelineError() async throws {
        try await TestDatabase.withConnection { conn in
            try await conn.execute("CREATE TABLE p (id INT PRIMARY KEY)")
            let batch: [(sql: String, params: [PGValue?])] = (0..<1_000).map { i in
                ("INSERT INTO p VALUES ($1)", [.int(i == 500 ? 0 : i)])  // 500 duplicates 0
            }
            let error = try await #require(throws: PostgresError.self) { try await conn.pipeline(batch) }
            #expect(error.isUniqueViolation)
            #expect(error.pipelineIndex == 500)
            #expect(try await conn.query("SELECT count(*) AS n FROM p").single().int("n") == 0)
            // The connection left pipeline mode cleanly and is reusable.
            #expect(try await conn.pipeline([("SELECT 1 AS one", [])]).first?.single().int("one") == 1)
        }
    }

    @Test("a two-step transaction commits its writes when it decides to, and rolls everything back when it refuses")
    func twoStepTransaction() async throws {
        try await TestDatabase.withConnection { conn in
            try await conn.execute("CREATE TABLE t (id INT PRIMARY KEY, note TEXT)")
            try await conn.execute("INSERT INTO t VALUES (1, 'one')")
            struct Refused: Error {}
            // The read's row lock is held until the writes commit: the decision sees what it writes over.
            let note = try await conn.twoStepTransaction(reads: [("SELECT note FROM t WHERE id = $1 FOR UPDATE", [.int(1)])]) { results in
                let note = try results[0].single().string("note")
                return (writes: [("UPDATE t SET note = $1 WHERE id = 1", [.text(note + "+")]), ("INSERT INTO t VALUES (2, 'two')", [])],
                        value: note)
            }
            #expect(note == "one")
            #expect(try await conn.query("SELECT count(*) AS n FROM t").single().int("n") == 2)
            #expect(!conn.isInTransaction)

            await #expect(throws: Refused.self) {
                try await conn.twoStepTransaction(reads: [("DELETE FROM t WHERE id = 2", [])]) { _ -> (writes: [PGConnection.Statement], value: Void) in
                    throw Refused()
                }
            }
            // A failing write: the read's effect is rolled back with it.
            await #expect(throws: PostgresError.self) {
                try await conn.twoStepTransaction(reads: [("DELETE FROM t WHERE id = 2", [])]) { _ in
                    (writes: [("INSERT INTO t VALUES (1, 'duplicate')", [])], value: ())
                }
            }
            #expect(try await conn.query("SELECT count(*) AS n FROM t").single().int("n") == 2)
            #expect(try await conn.query("SELECT note FROM t WHERE id = 1").single().string("note") == "one+")
            #expect(!conn.isInTransaction)
        }
    }

    // Its speed is a benchmark figure (`beamsync-bench store`), not something a test on a busy machine can judge.
    @Test("10,000 upserts in one pipeline all apply, and each update bumps its row's revision exactly once")
    func pipelineUpsertSpeed() async throws {
        try await TestDatabase.withConnection { conn in
            try await conn.execute("CREATE TABLE up (name TEXT PRIMARY KEY, spec JSONB, revision INT NOT NULL DEFAULT 1)")
            func batch(_ tag: String) -> [(sql: String, params: [PGValue?])] {
                (0..<10_000).map { i in
                    ("""
                     INSERT INTO up (name, spec) VALUES ($1, $2) ON CONFLICT (name)
                     DO UPDATE SET spec = EXCLUDED.spec, revision = up.revision + 1
                     """, [.text("profile-\(i)"), .json(#"{"tag": "\#(tag)", "i": \#(i)}"#)])
                }
            }
            let inserts = try await conn.pipeline(batch("a"))
            #expect(inserts.count == 10_000)
            let updates = try await conn.pipeline(batch("b"))
            #expect(updates.map(\.affectedRows) == Array(repeating: 1, count: 10_000))
            let row = try await conn.query("SELECT count(*) AS n, min(revision) AS r FROM up WHERE spec->>'tag' = 'b'").single()
            #expect(try row.int("n") == 10_000)
            #expect(try row.int("r") == 2)
        }
    }
}
