import ArgumentParser
import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTime
import Foundation

/// `beamsync token create|list|revoke`: bearer tokens for the HTTP API.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke tokens for the HTTP API.",
        discussion: """
            Scopes: read (every GET, the status page), write (also create and cancel executions), \
            admin (also create, change and delete deployment profiles). A token is printed once, \
            when it is created; the database keeps only its SHA-256. Send it as \
            `Authorization: Bearer <token>`.
            """,
        subcommands: [TokenCreate.self, TokenList.self, TokenRevoke.self]
    )
}

extension TokenScope: ExpressibleByArgument {}

struct TokenCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a token and print it (once).")

    @Option(help: "A name for the token: 1-64 ASCII letters, digits, '.', '_', '-'. The audit trail names writes `token:NAME`.")
    var name: String
    @Option(help: "read, write or admin.")
    var scope: TokenScope
    @Option(help: "Lifetime, e.g. 90d, 12h, 30m (default: the token does not expire).")
    var expires: String?
    @Option(help: "Output format: text or json.")
    var format: TextOrJSON = .text
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if let expires { _ = try parseExpiry(expires) }
    }

    func run() async throws {
        let lifetime = try expires.map(parseExpiry)
        let issued: IssuedToken
        do {
            issued = try await database.connect().run { conn in
                try await Migrator.beamsync.migrateIfPending(conn)
                return try await TokenService(conn: conn).create(name: name, scope: scope, expiresIn: lifetime, actor: .commandLine())
            }
        } catch let error as TokenServiceError {
            throw ValidationError(error.description)
        } catch let error as TokenStoreError {
            StandardError.write("beamsync: \(error)")
            throw ExitCode(1)
        }
        if format == .json {
            print(TokenOutput.json(TokenOutput.Created(token: issued.token, record: issued.record)))
            return
        }
        print(issued.token)
        let expiry = issued.record.expiresAt.map { "expires \(UTCTimestamp($0).iso8601())" } ?? "does not expire"
        StandardError.write("Token '\(issued.record.name)' (scope \(issued.record.scope.rawValue), \(expiry)) created. "
                            + "It is shown only now: store it in your secret manager. Use it as `Authorization: Bearer <token>`.")
    }

    private func parseExpiry(_ text: String) throws -> Duration {
        do { return try TokenService.parseExpiry(text) } catch { throw ValidationError("\(error)") }
    }
}

struct TokenList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List tokens (never their secret).")

    @Flag(help: "Include revoked tokens.")
    var all = false
    @Option(help: "Output format: text or json.")
    var format: TextOrJSON = .text
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
    }

    func run() async throws {
        let records = try await database.connect().run { conn in
            try await Migrator.beamsync.migrateIfPending(conn)
            return try await TokenService(conn: conn).list(includeRevoked: all)
        }
        if format == .json { print(TokenOutput.json(records)); return }
        if records.isEmpty { print("No tokens. Create one with `beamsync token create --name NAME --scope read|write|admin`."); return }
        let now = Date()
        func time(_ d: Date?) -> String { d.map { UTCTimestamp($0).iso8601() } ?? "-" }
        let rows = records.map { r -> [String] in
            let state = r.revokedAt != nil ? "revoked" : (r.expiresAt.map { $0 <= now } == true ? "expired" : "active")
            return [r.name, r.scope.rawValue, state, time(r.createdAt), r.expiresAt.map { UTCTimestamp($0).iso8601() } ?? "never",
                    time(r.lastUsedAt), r.createdBy]
        }
        let header = ["NAME", "SCOPE", "STATE", "CREATED", "EXPIRES", "LAST USED", "CREATED BY"]
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        let style = TerminalStyle.detect()
        print(style.paint(line(header), .bold))
        for row in rows { print(line(row)) }
    }
}

struct TokenRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke",
                                                    abstract: "Revoke a token; running servers refuse it within a second.")

    @Argument(help: "The token's name.")
    var name: String
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        do {
            let record = try await database.connect().run { conn in
                try await Migrator.beamsync.migrateIfPending(conn)
                return try await TokenService(conn: conn).revoke(name: name)
            }
            print("Revoked token '\(record.name)' (scope \(record.scope.rawValue)).")
        } catch let error as TokenStoreError {
            StandardError.write("beamsync: \(error)")
            throw ExitCode(1)
        }
    }
}

enum TokenOutput {
    struct Created: Encodable {
        var token: String
        var record: APITokenRecord
    }

    static func json<T: Encodable>(_ value: T) -> String {
        (try? String(decoding: APIJSON.encode(value), as: UTF8.self)) ?? "null"
    }
}
