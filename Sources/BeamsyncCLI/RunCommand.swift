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
            polling alone keeps the database correct. SIGTERM finishes the reconcile in flight and exits. \
            The runner logs each execution it starts and how it finishes.
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

    @OptionGroup var webhooks: WebhookSecretOptions

    @Flag(help: "Serve the status page and /api/v2/gitops/status without a token (default: a read token is needed).")
    var publicStatus = false
    @Flag(help: "Require a read token for /metrics (default: open, for Prometheus scrapers).")
    var metricsRequireToken = false
    @Option(help: "API writes (POST, PATCH, DELETE) each token may send per second, with bursts of twice as many; more get 429.")
    var apiWriteRate: Double = 10
    @Option(help: "PostgreSQL connections the HTTP server uses for API requests (default: twice this machine's processors, 2 to 8).")
    var apiConnections: Int?
    @Option(help: "Memory for finished deployment-profile list responses, in MiB (0: off); kept exact by change notifications.")
    var apiCacheMib = 4

    @OptionGroup var logging: LoggingOptions
    @OptionGroup var access: GitAccessOptions
    @OptionGroup var verification: CommitVerificationOptions
    @OptionGroup var planning: PlanningFlags
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        MemoryHygiene.configureAllocator()
        logging.bootstrap()
        let logger = Logger(label: "beamsync")
        let intervalDuration = try DurationText.parse(interval, option: "--interval")
        let timeout = try DurationText.parse(fetchTimeout, option: "--fetch-timeout")
        let (host, port) = try ListenAddress.parse(listen)
        for (file, flag) in [(webhooks.githubSecretFile, "--github-secret-file"), (webhooks.gitlabTokenFile, "--gitlab-token-file"),
                             (webhooks.webhookSecretFile, "--webhook-secret-file")] {
            if let file { try CredentialFileCheck.check(file, what: flag) }
        }
        let secrets = WebhookSecrets(github: try webhooks.githubSecretFile.map(WebhookSecrets.read(file:)),
                                     gitlab: try webhooks.gitlabTokenFile.map(WebhookSecrets.read(file:)),
                                     generic: try webhooks.webhookSecretFile.map(WebhookSecrets.read(file:)))
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
        guard apiWriteRate > 0, apiWriteRate <= 100_000 else {
            throw ValidationError("--api-write-rate \(apiWriteRate) is out of range; give writes per second per token, above 0 (e.g. 10)")
        }
        if let apiConnections, !(1...64).contains(apiConnections) {
            throw ValidationError("--api-connections \(apiConnections) is out of range; give a whole number from 1 to 64")
        }
        guard (0...1024).contains(apiCacheMib) else {
            throw ValidationError("--api-cache-mib \(apiCacheMib) is out of range; give 0 (off) to 1024")
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
                               fetchTimeout: timeout, cache: cache, verification: verification.settings)
        var options = ControllerOptions()
        options.interval = intervalDuration
        options.overrides = planning.overrides
        let metrics = ControllerMetrics()
        let controller = Controller(source: source, conninfo: conninfo, options: options, metrics: metrics, logger: logger, cache: cache)
        let pool = PGPool(conninfo: conninfo, overrides: APIDependencies.apiPoolOverrides(applicationName: "beamsync-http"),
                          maxConnections: apiConnections ?? APIDependencies.defaultPoolSize(processors: ProcessInfo.processInfo.activeProcessorCount))
        var deps = ServerDependencies(
            metrics: metrics, secrets: secrets, wake: { try await controller.requestReconcile() },
            status: {
                let leader = await controller.isLeader
                return try await pool.withConnection { conn in try await GitOpsStatus.read(conn: conn, leader: leader) }
            },
            databaseReady: { (try? await pool.withConnection { conn in try await conn.query("SELECT 1") }) != nil })
        deps.access = AccessPolicy(publicStatus: publicStatus, metricsNeedToken: metricsRequireToken)
        deps.api = .standard(conninfo: conninfo, pool: pool, writesPerSecond: apiWriteRate, cacheBytes: apiCacheMib << 20,
                             onFeedError: { logger.warning("API change feed lost its database session; reconnecting", metadata: ["error": .string($0)]) },
                             onAnnouncementError: {
                                 logger.warning("a profile change was not announced; other replicas see it at their next live-version check (1 s)",
                                                metadata: ["error": .string($0)])
                             })
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
        let runner = ExecutionRunner(conninfo: conninfo, configuration: runnerConfiguration, logger: RunnerLogging.logger(logger))
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: http), .init(service: ControllerService(controller: controller)),
                                             .init(service: RunnerService(runner: runner)), .init(service: FreedMemoryReturnService())],
                                 gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // From here the group ends the process on SIGINT/SIGTERM, in order; the embedded server
        // (if any) is stopped after it.
        EmbeddedServers.handOverSignals()
        do {
            try await group.run()
        } catch {
            await pool.close()
            throw error
        }
        await pool.close()
    }
}

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
