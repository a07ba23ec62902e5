import BeamsyncPostgres
import BeamsyncTestSupport
import Foundation
import Testing

@Suite("PGConnection queries", .requires(.postgres))
struct QueryTests {
    @Test("parameters are data: injection-looking and unicode strings round-trip verbatim")
    func parametersRoundTripVerbatim() async throws {
        try await TestDatabase.withConnection { conn in
            try await conn.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
            let nasty = [
                "'; DROP TABLE t; --",
                "Robert'); DELETE FROM t WHERE ('1'='1",
                "$1 $2 \\x00 \\\\ \" ' `",
                "tab\there\nnewline\r\ncrlf",
                "héllo wörld — 日本語 🚀 \u{200D}",
                "",
            ]
            for (i, value) in nasty.enumerated() {
                try await conn.query("INSERT INTO t (id, v) VALUES ($1, $2)", [.int(i), .text(value)])
            }
            let rows = try await conn.query("SELECT id, v FROM t ORDER BY id").rows
            #expect(try rows.map { try $0.string("v") } == nasty)
            let echoed = try await conn.query("SELECT $1::text AS v", [.text(nasty[0])]).single()
            #expect(try echoed.string("v") == nasty[0])
            #expect(try await conn.query("SELECT count(*) AS n FROM t").single().int("n") == nasty.count)
        }
    }

    @Test("NULL parameters and NULL columns surface as nil; non-optional accessors throw")
    func nulls() async throws {
        try await TestDatabase.withConnection { conn in
            let row = try await conn.query("SELECT $1::text AS a, $2::int AS b, 'x' AS c", [nil, nil]).single()
            #expect(try row.optionalString("a") == nil)
            #expect(try row.optionalInt("b") == nil)
            #expect(try row.optionalString("c") == "x")
            #expect(throws: PostgresError.self) { try row.string("a") }
            #expect(throws: PostgresError.self) { try row.string("no_such_column") }
        }
    }

    @Test("typed values encode and decode: int, bool, double, uuid, json, timestamptz")
    func typedValues() async throws {
        try await TestDatabase.withConnection { conn in
            let id = UUID()
            let when = Date(timeIntervalSince1970: 1_700_000_000.123456)
            let row = try await conn.query(
                "SELECT $1 AS i, $2 AS b, $3 AS d, $4 AS u, $5 AS j, $6 AS t, $5->>'k' AS jk, $1 + 1 AS i2",
                [.int(Int64.max - 1), .bool(true), .double(2.5), .uuid(id), .json(#"{"k": "v/ü"}"#), .timestamp(when)]
            ).single()
            #expect(try row.int64("i") == Int64.max - 1)
            #expect(try row.bool("b"))
            #expect(try row.double("d") == 2.5)
            #expect(try row.uuid("u") == id)
            #expect(try row.json("j") == #"{"k": "v/ü"}"#)
            #expect(try row.string("jk") == "v/ü")
            #expect(try abs(row.date("t").timeIntervalSince(when)) < 0.000_001)
            #expect(try row.int64("i2") == Int64.max)
        }
    }

    @Test("timestamps decode whatever the session time zone")
    func timestampsInOtherZones() async throws {
        try await TestDatabase.withConnection { conn in
            try await conn.execute("SET TimeZone TO 'Asia/Kolkata'")
            let row = try await conn.query("SELECT '2024-05-01 12:00:00+00'::timestamptz AS t").single()
            #expect(try row.date("t") == Date(timeIntervalSince1970: 1_714_564_800))
        }
    }

    @Test("a unique violation surfaces SQLSTATE 23505 with the constraint name and no values")
    func uniqueViolation() async throws {
        try await TestDatabase.withConnection { conn in
            try await conn.execute("CREATE TABLE u (name TEXT CONSTRAINT u_name_key UNIQUE)")
            try await conn.query("INSERT INTO u VALUES ($1)", ["secret-value"])
            let error = try await #require(throws: PostgresError.self) {
                try await conn.query("INSERT INTO u VALUES ($1)", ["secret-value"], name: "insert u")
            }
            #expect(error.sqlState == "23505")
            #expect(error.isUniqueViolation)
            #expect(!error.isConnectionLost)
            #expect(error.constraint == "u_name_key")
            #expect(error.statement == "insert u")
            #expect(error.description.contains("23505"))
            #expect(error.description.contains("insert u"))
        }
    }

    @Test("transaction commits on success and rolls back when the body throws")
    func transactionRollback() async throws {
        struct Boom: Error {}
        try await TestDatabase.withConnection { conn in
            try await conn.execute("CREATE TABLE tx (v INT)")
            try await conn.transaction { tx in try await tx.query("INSERT INTO tx VALUES (1)") }
            await #expect(throws: Boom.self) {
                try await conn.transaction { tx in
                    try await tx.query("INSERT INTO tx VALUES (2)")
                    throw Boom()
                }
            }
            #expect(!conn.isInTransaction)
            let values = try await conn.query("SELECT v FROM tx ORDER BY v").rows.map { try $0.int("v") }
            #expect(values == [1])
        }
    }

    @Test("a statement error inside a transaction rolls it back and the connection stays usable")
    func transactionStatementError() async throws {
        try await TestDatabase.withConnection { conn in
            try await conn.execute("CREATE TABLE tx (v INT PRIMARY KEY)")
            await #expect(throws: PostgresError.self) {
                try await conn.transaction { tx in
                    try await tx.query("INSERT INTO tx VALUES (1)")
                    try await tx.query("INSERT INTO tx VALUES (1)")
                }
            }
            #expect(try await conn.query("SELECT count(*) AS n FROM tx").single().int("n") == 0)
        }
    }

    @Test("execute runs several statements; a killed session reports connection lost")
    func multiStatementAndLostConnection() async throws {
        try await TestDatabase.withConnection { conn in
            try await conn.execute("CREATE TABLE a (x INT); CREATE TABLE b (y INT); INSERT INTO a VALUES (1);")
            #expect(try await conn.query("SELECT x FROM a").single().int("x") == 1)

            let other = try await PGConnection.connect(conninfo: try TestDatabase.serverURL())
            try await other.query("SELECT pg_terminate_backend($1::int)", [.int(Int64(conn.backendPID))])
            let error = try await #require(throws: PostgresError.self) { try await conn.query("SELECT 1") }
            #expect(error.isConnectionLost)
            #expect(conn.isBroken)
        }
    }

    @Test("application_name defaults to beamsync and overrides win over the conninfo")
    func applicationName() async throws {
        try await TestDatabase.withConnection { conn in
            let row = try await conn.query("SELECT current_setting('application_name') AS n").single()
            #expect(try row.string("n") == "beamsync")
        }
        let named = try await PGConnection.connect(conninfo: try TestDatabase.serverURL(), overrides: ["application_name": "other"])
        #expect(try await named.query("SELECT current_setting('application_name') AS n").single().string("n") == "other")
    }

    @Test("an empty conninfo is accepted: libpq fills in defaults (PG* environment) for what is not given")
    func emptyConninfo() async throws {
        let url = try #require(URLComponents(string: try TestDatabase.serverURL()))
        var keywords = ["host": url.host ?? "localhost", "user": url.user ?? "postgres", "dbname": "postgres"]
        if let port = url.port { keywords["port"] = String(port) }
        let conn = try await PGConnection.connect(conninfo: "", overrides: keywords)
        #expect(try await conn.query("SELECT current_database() AS db").single().string("db") == "postgres")
    }
}
