import Foundation
import Testing

/// The real services the integration tests talk to, as the scripts that start them describe them
/// in the environment (`scripts/test.sh` starts them all and exports their variables).
///
/// A suite that needs a service runs when the service is configured; when it is not, the suite is
/// skipped, unless `BEAMSYNC_REQUIRE_SERVICES=1` (set by `scripts/test.sh`): then it runs and its
/// tests fail on the missing variables, so a broken set-up cannot pass as a green run.
public enum TestServices {
    public static let environment = ProcessInfo.processInfo.environment

    /// Whether a missing service fails its tests instead of skipping them.
    public static let required = environment["BEAMSYNC_REQUIRE_SERVICES"] == "1"

    /// Whether a suite whose services are `configured` runs.
    public static func shouldRun(when configured: Bool) -> Bool { configured || required }

    // MARK: PostgreSQL (scripts/postgres.sh start DIR PORT prints the URL)

    /// The server's URL; tests create their own databases on it (`TestDatabase`).
    public static let databaseURL = environment["BEAMSYNC_TEST_DATABASE_URL"]

    /// The server's URL, or an error naming the variable (for tests that run because services are required).
    public static func requireDatabase() throws -> String {
        try databaseURL ?? { throw Missing(.postgres) }()
    }

    // MARK: DALiuGE (scripts/dlg.sh start DIR)

    /// The Translator Manager, Data Island Manager and Node Manager of `scripts/dlg.sh`.
    public struct DALiuGE: Sendable {
        public var tmURL: String
        public var dimHost: String
        public var dimPort: Int
        /// `$DLG_ROOT/workspace`: the Node Manager writes each session's outputs to `<work>/<session id>/`.
        public var work: String
        /// A second DIM whose only Node Manager is down (`BEAMSYNC_TEST_DEAD_NM_DIM_PORT`).
        public var deadNodeDIMPort: Int?

        public var dimURL: String { "http://\(dimHost):\(dimPort)" }
    }

    public static let daliuge: DALiuGE? = {
        guard let tm = environment["BEAMSYNC_TEST_TM_URL"], let host = environment["BEAMSYNC_TEST_DIM_HOST"],
              let port = environment["BEAMSYNC_TEST_DIM_PORT"].flatMap(Int.init), let work = environment["BEAMSYNC_TEST_DLG_WORK"]
        else { return nil }
        return DALiuGE(tmURL: tm, dimHost: host, dimPort: port, work: work,
                       deadNodeDIMPort: environment["BEAMSYNC_TEST_DEAD_NM_DIM_PORT"].flatMap(Int.init))
    }()

    public static func requireDALiuGE() throws -> DALiuGE {
        try daliuge ?? { throw Missing(.daliuge) }()
    }

    // MARK: sshd (scripts/sshd.sh start DIR PORT)

    /// The private sshd that serves git repositories over ssh://.
    public struct SSHServer: Sendable {
        public var host: String
        public var port: Int
        public var user: String
        public var key: String
        public var passphraseKey: String
        public var passphraseFile: String
        public var rsaKey: String
        public var knownHosts: String
        public var repos: String

        public func url(_ repositoryPath: String) -> String { "ssh://\(user)@\(host):\(port)\(repositoryPath)" }
    }

    public static let sshServer: SSHServer? = {
        guard let port = environment["BEAMSYNC_TEST_SSHD_PORT"].flatMap(Int.init), let key = environment["BEAMSYNC_TEST_SSH_KEY"],
              let knownHosts = environment["BEAMSYNC_TEST_SSH_KNOWN_HOSTS"], let repos = environment["BEAMSYNC_TEST_SSH_REPOS"]
        else { return nil }
        return SSHServer(host: environment["BEAMSYNC_TEST_SSHD_HOST"] ?? "127.0.0.1", port: port,
                         user: environment["BEAMSYNC_TEST_SSH_USER"] ?? "beamsync-git", key: key,
                         passphraseKey: environment["BEAMSYNC_TEST_SSH_PASSPHRASE_KEY"] ?? "",
                         passphraseFile: environment["BEAMSYNC_TEST_SSH_PASSPHRASE_FILE"] ?? "",
                         rsaKey: environment["BEAMSYNC_TEST_SSH_RSA_KEY"] ?? "", knownHosts: knownHosts, repos: repos)
    }()

    public static func requireSSHServer() throws -> SSHServer {
        try sshServer ?? { throw Missing(.sshd) }()
    }

    // MARK: Tools

    /// The interpreter with `jsonschema` (scripts/test.sh sets BEAMSYNC_PYTHON).
    public static let python = environment["BEAMSYNC_PYTHON"] ?? "/usr/bin/python3"

    /// PostgreSQL's server programs (for tests that start and stop their own server).
    public static var postgresServerProgramsInstalled: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/15/bin/pg_ctl")
    }

    /// A service that is required here but not configured: names the variables and how to set them.
    public struct Missing: Error, CustomStringConvertible {
        public let service: TestService
        public init(_ service: TestService) { self.service = service }
        public var description: String {
            "\(service.variables) \(service.variables.contains(",") ? "are" : "is") not set; \(service.howToStart)"
        }
    }
}

/// A service some suites need.
public enum TestService: Sendable {
    case postgres
    case daliuge
    case sshd
    /// The Slurm cluster and SSH login node of scripts/slurm.sh (`SlurmTestCluster`).
    case slurm

    public var isConfigured: Bool {
        switch self {
        case .postgres: TestServices.databaseURL != nil
        case .daliuge: TestServices.daliuge != nil
        case .sshd: TestServices.sshServer != nil
        case .slurm: SlurmTestCluster.current != nil
        }
    }

    var variables: String {
        switch self {
        case .postgres: "BEAMSYNC_TEST_DATABASE_URL"
        case .daliuge: "BEAMSYNC_TEST_TM_URL, BEAMSYNC_TEST_DIM_HOST, BEAMSYNC_TEST_DIM_PORT and BEAMSYNC_TEST_DLG_WORK"
        case .sshd: "BEAMSYNC_TEST_SSHD_PORT, BEAMSYNC_TEST_SSH_KEY, BEAMSYNC_TEST_SSH_KNOWN_HOSTS and BEAMSYNC_TEST_SSH_REPOS"
        case .slurm: "BEAMSYNC_TEST_SLURM_DIR, BEAMSYNC_TEST_SLURM_PORT, BEAMSYNC_TEST_SLURM_KEY, BEAMSYNC_TEST_SLURM_KNOWN_HOSTS and BEAMSYNC_TEST_SLURM_HOME_DIR"
        }
    }

    var howToStart: String {
        switch self {
        case .postgres: "run scripts/postgres.sh start DIR PORT and export the URL it prints as BEAMSYNC_TEST_DATABASE_URL"
        case .daliuge: "run scripts/dlg.sh start DIR and export the variables it prints"
        case .sshd: "run scripts/sshd.sh start DIR PORT and eval its output"
        case .slurm: "run  eval \"$(scripts/slurm.sh start DIR)\""
        }
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the suite or test when `services` are all configured, or when services are required
    /// (then the missing ones fail it); skips it otherwise.
    public static func requires(_ services: TestService...) -> Self {
        let names = services.map(\.variables).joined(separator: "; ")
        return .enabled(if: TestServices.shouldRun(when: services.allSatisfy(\.isConfigured)), Comment(rawValue: "needs \(names)"))
    }
}
