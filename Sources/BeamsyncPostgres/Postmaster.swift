import Foundation

/// What `postmaster.pid` in a data directory says, checked against the process it names.
/// PostgreSQL writes the file when it starts (line 1 the PID, line 2 the data directory, line 8
/// the state: `starting`, `ready`, `stopping`) and removes it when it stops; a killed server or a
/// crashed machine can leave it behind.
enum Postmaster: Equatable {
    /// No pid file: nothing runs.
    case none
    /// A PostgreSQL server for this data directory runs as the expected user.
    case running(pid: pid_t, ready: Bool)
    /// The file names a process that has ended, or one that is not this directory's postmaster
    /// (its PID was reused): the file can be removed.
    case stale(pid: pid_t)

    static func pidFile(dataDirectory: String) -> String { dataDirectory + "/postmaster.pid" }

    /// Reads and checks the pid file; `owner` is the uid the server must run as.
    static func inspect(dataDirectory: String, owner: uid_t) -> Postmaster {
        guard let text = try? String(contentsOfFile: pidFile(dataDirectory: dataDirectory), encoding: .utf8) else { return .none }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = lines.first, let pid = pid_t(first.trimmingCharacters(in: .whitespaces)), pid > 0 else {
            // Being written right now, or garbage: a starting server rewrites it within milliseconds.
            return .running(pid: 0, ready: false)
        }
        guard isAlive(pid), isPostmaster(pid, dataDirectory: dataDirectory, owner: owner) else { return .stale(pid: pid) }
        let ready = lines.count > 7 && lines[7].trimmingCharacters(in: .whitespaces) == "ready"
        return .running(pid: pid, ready: ready)
    }

    /// Alive and not a zombie (a zombie has ended; only its parent has yet to reap it).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }

    /// The process is PostgreSQL's server for `dataDirectory`, running as `owner`: its program is
    /// `postgres`, its arguments name the directory (it is started with `-D DIR`), and its real
    /// uid is the owner's.
    static func isPostmaster(_ pid: pid_t, dataDirectory: String, owner: uid_t) -> Bool {
        guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let arguments = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard let program = arguments.first, URL(fileURLWithPath: program).lastPathComponent == "postgres" else { return false }
        let wanted = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path
        guard arguments.dropFirst().contains(where: { URL(fileURLWithPath: $0).standardizedFileURL.path == wanted }) else { return false }
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }),
              let uid = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap({ uid_t($0) }) else { return false }
        return uid == owner
    }
}

/// An advisory lock on a file (`flock(2)`), held by an open file description: the kernel drops
/// it when the process ends, however it ends, which is what makes it a reliable "in use" mark.
/// Opened close-on-exec, so no child (initdb, the server) inherits and keeps it.
final class FileLock {
    let descriptor: Int32

    init(path: String) throws {
        descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw EmbeddedPostgresError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(descriptor) }

    /// Waits for the lock (shared or exclusive), retrying when a signal interrupts the wait.
    func lock(shared: Bool) {
        while flock(descriptor, shared ? LOCK_SH : LOCK_EX) != 0 && errno == EINTR {}
    }

    /// Takes the exclusive lock only if nobody else holds the lock in any mode.
    func tryExclusive() -> Bool {
        flock(descriptor, LOCK_EX | LOCK_NB) == 0
    }
}
