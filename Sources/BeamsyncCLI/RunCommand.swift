import ArgumentParser
import BeamsyncController
import BeamsyncEngine
import BeamsyncGit
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncServer
import BeamsyncStore
import Foundation
import Logging
import ServiceLifecycle

/// `beamsync run`: the controller. Polls the repository (with jitter), applies each new commit
/// through the same plan/apply path as the CLI, serves webhooks, health, metrics and status.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the controller: keep PostgreSQL in step with a git repository.",
        discussion: """
            Any number of replicas may run against one database; one leads (PostgreSQL advisory lock) \
            and applies, the others wait and take over when it dies. Webhooks only wake the loop early: \
            polling alone keeps the database correct. SIGTERM finishes the reconcile in flight and exits.
            """
    )

    @Option(help: "Repository URL: file://, ssh:// (or user@host:path), https://.")
    var repo: String
    @Option(help: "Branch to follow.")
    var branch = "main"
    @Option(help: "Subdirectory of the repository that holds profiles/, projects/, executions/.")
    var path = ""
    @Option(help: "Poll interval (e.g. 30s, 3m, 1h); jittered by ±10%.")
    var interval = "3m"
    @Option(help: "Deadline for one git fetch.")
    var fetchTimeout = "60s"
    @Option(help: "Address for webhooks, health, metrics and status (host:port).")
    var listen = "127.0.0.1:8080"
    @Option(help: "Where the bare git mirror and other caches live (default: $BEAMSYNC_HOME/cache).")
    var cacheDir: String?
    @Option(help: ArgumentHelp(
        "How many executions the runner advances at once (default: $BEAMSYNC_RUNNER_CONCURRENCY, else \(RunnerConfiguration.defaultConcurrency)).",
        discussion: "Each uses one PostgreSQL connection and one HTTP transfer thread while it advances."))
    var runnerConcurrency: Int?

    @Option(help: "File holding the GitHub webhook secret (enables /hooks/github).")
    var githubSecretFile: String?
    @Option(help: "File holding the GitLab webhook token (enables /hooks/gitlab).")
    var gitlabTokenFile: String?
    @Option(help: "File holding the generic webhook HMAC secret (enables /hooks/generic).")
    var webhookSecretFile: String?

    @Option(help: "Least severe log level written: trace, debug, info, notice, warning, error or critical (default: $BEAMSYNC_LOG_LEVEL, else info).")
    var logLevel: Logger.Level?

    @OptionGroup var access: GitAccessOptions
    @OptionGroup var planning: PlanningFlags
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        MemoryHygiene.limitArenas()
        let environmentLevel = ProcessInfo.processInfo.environment["BEAMSYNC_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) }
        BeamsyncLogHandler.bootstrap(level: logLevel ?? environmentLevel ?? .info)
        let logger = Logger(label: "beamsync")
        let intervalDuration = try DurationText.parse(interval, option: "--interval")
        let timeout = try DurationText.parse(fetchTimeout, option: "--fetch-timeout")
        let (host, port) = try ListenAddress.parse(listen)
        let secrets = WebhookSecrets(github: try githubSecretFile.map(WebhookSecrets.read(file:)),
                                     gitlab: try gitlabTokenFile.map(WebhookSecrets.read(file:)),
                                     generic: try webhookSecretFile.map(WebhookSecrets.read(file:)))
        let remote = try access.remoteOptions()
        let env = ProcessInfo.processInfo.environment
        var runnerConfiguration = RunnerConfiguration(environment: env)
        if let width = runnerConcurrency {
            guard (1...256).contains(width) else {
                throw ValidationError("--runner-concurrency \(width) is out of range; give a whole number from 1 to 256")
            }
            runnerConfiguration.concurrency = width
        } else {
            do {
                _ = try RunnerConfiguration.concurrency(from: env)
            } catch {
                throw ValidationError("\(error); unset it or use --runner-concurrency")
            }
        }
        let (conninfo, embedded) = try await database.resolve()
        do {
            try await serve(conninfo: conninfo, logger: logger, intervalDuration: intervalDuration, timeout: timeout, host: host, port: port,
                            secrets: secrets, remote: remote, runnerConfiguration: runnerConfiguration)
        } catch {
            try? await embedded?.stop()
            throw error
        }
        // The group has ended (SIGTERM/SIGINT): stop the PostgreSQL this command started, and wait for it.
        try? await embedded?.stop()
        logger.info("controller stopped")
    }

    private func serve(conninfo: String, logger: Logger, intervalDuration: Duration, timeout: Duration, host: String, port: Int,
                       secrets: WebhookSecrets, remote: GitRemoteOptions, runnerConfiguration: RunnerConfiguration) async throws {
        let env = ProcessInfo.processInfo.environment
        // The schema first, so the runner and the HTTP server never query tables that do not exist yet.
        let setup = try await PGConnection.connect(conninfo: conninfo, overrides: ["application_name": "beamsync-migrate"])
        do {
            try await Migrator.beamsync.migrateIfPending(setup)
        } catch {
            await setup.close()
            throw error
        }
        await setup.close()
        let cacheDirectory = cacheDir ?? (EmbeddedPostgres.defaultHome(environment: env) + "/cache")
        let cache = ParsedFileCache()
        let source = GitSource(url: repo, ref: branch, path: path, cacheDirectory: cacheDirectory, options: remote,
                               fetchTimeout: timeout, cache: cache)
        var options = ControllerOptions()
        options.interval = intervalDuration
        options.overrides = planning.overrides
        let metrics = ControllerMetrics()
        let controller = Controller(source: source, conninfo: conninfo, options: options, metrics: metrics, logger: logger, cache: cache)
        let pool = PGPool(conninfo: conninfo, overrides: ["application_name": "beamsync-http"], maxConnections: 2)
        var deps = ServerDependencies(
            metrics: metrics, secrets: secrets, wake: { controller.wake(.webhook) },
            status: {
                let leader = await controller.isLeader
                return try await pool.withConnection { conn in try await GitOpsStatus.read(conn: conn, leader: leader) }
            },
            databaseReady: { (try? await pool.withConnection { conn in try await conn.query("SELECT 1") }) != nil })
        deps.overview = { query in
            let leader = await controller.isLeader
            return try await pool.withConnection { conn in try await StatusOverview.read(conn: conn, leader: leader, inventory: query) }
        }
        deps.recordDelivery = { delivery in
            do {
                try await pool.withConnection { conn in try await WebhookDeliveryLog(conn: conn).record(delivery) }
            } catch {
                logger.warning("webhook delivery not recorded", metadata: ["error": .string("\(error)")])
            }
        }
        let http = BeamsyncHTTP.application(deps, host: host, port: port, logger: logger)
        logger.info("controller starting", metadata: ["repo": .string(RedactedURL.text(repo)), "branch": .string(branch),
                                                      "path": .string(path), "listen": .string(listen), "interval": .string(interval)])
        // The same runner `beamsync executions` uses drives every execution that applies create.
        let runner = ExecutionRunner(conninfo: conninfo, configuration: runnerConfiguration, logger: RunnerLogger { level, message, metadata in
            let meta = metadata.mapValues { Logger.MetadataValue.string($0) }
            switch level {
            case .debug: logger.debug("\(message)", metadata: meta)
            case .info: logger.info("\(message)", metadata: meta)
            case .warning: logger.warning("\(message)", metadata: meta)
            case .error: logger.error("\(message)", metadata: meta)
            }
        })
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: http), .init(service: ControllerService(controller: controller)),
                                             .init(service: RunnerService(runner: runner))],
                                 gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await pool.close()
            throw error
        }
        await pool.close()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `30s`, `3m`, `1h`, `500ms`.
enum DurationText {
    static func parse(_ text: String, option: String) throws -> Duration {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            if suffix == "s" && text.hasSuffix("ms") { continue }
            if let v = Double(text.dropLast(suffix.count)), v > 0 { return .milliseconds(Int64(v * factor * 1000)) }
        }
        throw ValidationError("\(option) '\(text)' is not a duration; write e.g. 30s, 3m or 1h")
    }
}

enum ListenAddress {
    static func parse(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw ValidationError("--listen '\(text)' is not host:port (e.g. 127.0.0.1:8080)")
        }
        return (String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
    }
}
