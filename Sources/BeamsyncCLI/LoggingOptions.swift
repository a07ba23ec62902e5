import ArgumentParser
import BeamsyncController
import BeamsyncEngine
import Foundation
import BeamsyncOperations
import Logging

/// `--log-level`: the least severe line beamsync writes to standard error (the controller's and
/// the runner's logs, and notes such as which embedded PostgreSQL a command uses). Results go to
/// standard output whatever the level.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Least severe log level written: trace, debug, info, notice, warning, error or critical (default: $BEAMSYNC_LOG_LEVEL, else info).")
    var logLevel: Logger.Level?

    func validate() throws {
        if logLevel == nil, let text = ProcessInfo.processInfo.environment["BEAMSYNC_LOG_LEVEL"], !text.isEmpty,
           Logger.Level(rawValue: text.lowercased()) == nil {
            throw ValidationError("BEAMSYNC_LOG_LEVEL '\(text)' is not a log level; use trace, debug, info, notice, warning, error or critical")
        }
    }

    /// The level in force: the option, else BEAMSYNC_LOG_LEVEL, else info.
    var level: Logger.Level {
        logLevel ?? ProcessInfo.processInfo.environment["BEAMSYNC_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
    }

    /// Sets up swift-log (JSON lines unless standard error is a terminal) and the notes' level.
    func bootstrap() {
        Notes.setLevel(level)
        BeamsyncLogHandler.bootstrap(level: level)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Short lines for people on standard error (`beamsync: ...`), written when `--log-level`
/// lets their level through.
enum Notes {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var threshold = Logger.Level.info  // guarded by `lock`

    static func setLevel(_ level: Logger.Level) { lock.withLock { threshold = level } }

    static func info(_ text: String) { write(text, at: .info) }
    static func warning(_ text: String) { write(text, at: .warning) }

    private static func write(_ text: String, at level: Logger.Level) {
        guard level >= lock.withLock({ threshold }) else { return }
        StandardError.write("beamsync: " + SecretRedaction.redact(text))
    }
}

/// The runner's log lines, through swift-log (so `--log-level` and the JSON/text choice apply).
enum RunnerLogging {
    static func logger(_ logger: Logger = Logger(label: "beamsync")) -> RunnerLogger {
        RunnerLogger { level, message, metadata in
            // Driver messages may quote what a backend answered: redacted like the controller's.
            let meta = metadata.mapValues { Logger.MetadataValue.string(SecretRedaction.redact($0)) }
            let text = SecretRedaction.redact(message)
            switch level {
            case .debug: logger.debug("\(text)", metadata: meta)
            case .info: logger.info("\(text)", metadata: meta)
            case .warning: logger.warning("\(text)", metadata: meta)
            case .error: logger.error("\(text)", metadata: meta)
            }
        }
    }
}
