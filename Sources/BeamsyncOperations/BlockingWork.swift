import Foundation

/// Runs blocking work (libgit2 tree walks and blob reads) on a thread of its own, so the Swift
/// concurrency pool — two threads on a 2-core machine — keeps serving HTTP and the database.
public enum BlockingWork {
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
            }
            thread.name = "beamsync-blocking"
            thread.start()
        }
    }
}
