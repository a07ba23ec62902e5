import CGit2
import Foundation

/// Decides, for each TCP connection libgit2 opens, whether the transfer running on this thread
/// may make it. A transfer that carries an https token may connect only to the origin it was
/// configured for (scheme's host and port): a redirect to any other host or port is refused
/// before a byte is sent there, so the token never leaves its origin. libgit2 1.5 would
/// otherwise follow such a redirect with the credential it already holds (and it treats another
/// port on the same host as the same site).
///
/// libgit2 has one process-wide stream registry, so the gate is registered once and finds the
/// transfer through the calling thread: every fetch runs on its own thread (`FetchJob`).
enum GitConnectionGate {
    private static let threadKey = "beamsync.git.connection-gate"

    /// Registered once, with libgit2's initialisation.
    static let registered: Bool = {
        cgit2_register_socket_stream(gatedSocketStream) == 0
    }()

    /// Runs `body` with `job` deciding the connections this thread opens.
    static func with<T>(_ job: FetchJob, _ body: () throws -> T) rethrows -> T {
        Thread.current.threadDictionary[threadKey] = job
        defer { Thread.current.threadDictionary[threadKey] = nil }
        return try body()
    }

    fileprivate static func currentJob() -> FetchJob? {
        Thread.current.threadDictionary[threadKey] as? FetchJob
    }
}

private let gatedSocketStream: @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<git_stream>?>?, UnsafePointer<CChar>?,
                                              UnsafePointer<CChar>?) -> Int32 = { out, host, port in
    guard let out, let host, let port else { return -1 }
    if let job = GitConnectionGate.currentJob(), let refusal = job.refusesConnection(host: String(cString: host), port: String(cString: port)) {
        return refusal
    }
    return cgit2_socket_stream_new(out, host, port)
}
