import CGit2
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One run of an external verification tool (`ssh-keygen`, `gpgv`): started with posix_spawn
/// (no shell), with exactly the environment given, standard input read from a file, and
/// standard output and error captured up to a bound. A run that outlives its deadline is killed.
/// Each run blocks a thread of its own, never the cooperative pool.
struct ToolProcess {
    let executable: String
    let arguments: [String]
    let environment: [String: String]
    /// Read as standard input; `/dev/null` when nil.
    let stdinFile: String?
    let timeout: Duration
    /// Bytes kept of each of stdout and stderr; the rest is read and dropped.
    let outputLimit: Int

    enum Termination: Equatable {
        case exited(Int32)
        case signalled(Int32)
    }

    struct Result {
        let termination: Termination
        let stdout: Data
        let stderr: Data
        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        var stderrText: String { String(decoding: stderr, as: UTF8.self) }
        var succeeded: Bool { termination == .exited(0) }
    }

    enum Failure: Error, Equatable {
        case cannotStart(errno: Int32)
        case cannotOpenInput(path: String, errno: Int32)
        case timedOut
    }

    func run() async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Swift.Result { try runBlocking() }) }
            thread.name = "beamsync-verify-tool"
            thread.start()
        }
    }

    func runBlocking() throws -> Result {
        let deadline = ContinuousClock.now + timeout
        let input = open(stdinFile ?? "/dev/null", O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw Failure.cannotOpenInput(path: stdinFile ?? "/dev/null", errno: errno) }
        defer { close(input) }
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard cgit2_pipe_cloexec(&outPipe) == 0 else { throw Failure.cannotStart(errno: errno) }
        guard cgit2_pipe_cloexec(&errPipe) == 0 else {
            let code = errno
            close(outPipe[0]); close(outPipe[1])
            throw Failure.cannotStart(errno: code)
        }
        let pid: pid_t
        do {
            pid = try spawn(stdin: input, stdout: outPipe[1], stderr: errPipe[1])
        } catch {
            for fd in outPipe + errPipe { close(fd) }
            throw error
        }
        close(outPipe[1]); close(errPipe[1])
        defer { close(outPipe[0]); close(errPipe[0]) }

        var out = BoundedBuffer(limit: outputLimit), err = BoundedBuffer(limit: outputLimit)
        let drained = drain(out: outPipe[0], err: errPipe[0], into: &out, &err, until: deadline)
        guard drained, let status = reap(pid, until: deadline) else {
            kill(pid, SIGKILL)
            var ignored: Int32 = 0
            while waitpid(pid, &ignored, 0) < 0 && errno == EINTR {}
            throw Failure.timedOut
        }
        return Result(termination: status, stdout: out.data, stderr: err.data)
    }

    /// Starts the child with its three standard descriptors and nothing else open.
    private func spawn(stdin: Int32, stdout: Int32, stderr: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // Descriptors the rest of the process opened without O_CLOEXEC stay out of the child.
        cgit2_spawn_close_from(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard code == 0 else { throw Failure.cannotStart(errno: code) }
        return pid
    }

    /// Reads both pipes until both reach end of file; false when the deadline passes first.
    private func drain(out: Int32, err: Int32, into outBuffer: inout BoundedBuffer, _ errBuffer: inout BoundedBuffer,
                       until deadline: ContinuousClock.Instant) -> Bool {
        var open: [Int32] = [out, err]
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while !open.isEmpty {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return false }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), Int32(clamping: left.milliseconds + 1))
            if ready < 0 {
                if errno == EINTR { continue }
                return false
            }
            for entry in fds where entry.revents != 0 {
                let count = chunk.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    if entry.fd == out { outBuffer.append(chunk, count: count) } else { errBuffer.append(chunk, count: count) }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        return true
    }

    /// Waits for the child to exit; nil when the deadline passes first.
    private func reap(_ pid: pid_t, until deadline: ContinuousClock.Instant) -> Termination? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            // ECHILD: someone else reaped the child (SIGCHLD ignored), so its status is lost;
            // reported as a failure, never as success.
            if result < 0 && errno != EINTR { return .signalled(0) }
            if ContinuousClock.now >= deadline { return nil }
            usleep(1_000)
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot see.
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }
}

/// Keeps the first `limit` bytes appended and counts the rest.
private struct BoundedBuffer {
    let limit: Int
    private(set) var data = Data()

    init(limit: Int) { self.limit = limit }

    mutating func append(_ bytes: [UInt8], count: Int) {
        let room = limit - data.count
        if room > 0 { data.append(contentsOf: bytes[0..<min(room, count)]) }
    }
}

private extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}
