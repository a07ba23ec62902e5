import Foundation

/// Runs helper programs (initdb, runuser, the server's start) to completion and captures their output.
/// Blocking: call it from a `BlockingThread`, never from the cooperative pool.
struct ProcessRunner {
    struct Outcome {
        let status: Int32
        let output: String
        var succeeded: Bool { status == 0 }
    }

    var environment: [String: String]
    var workingDirectory: String
    /// When set, commands run as this user via `runuser -u USER --` (PostgreSQL refuses root).
    var runAsUser: String?

    /// - Parameter daemonizes: the command leaves a background process behind (the server).
    ///   Foundation's Process notices a child's exit when a socket the child inherited reaches
    ///   EOF; a daemon grandchild inherits it too and would make `waitUntilExit` hang forever.
    ///   So such a command runs under a shell that first closes every descriptor above 2.
    func run(_ executable: String, _ arguments: [String], daemonizes: Bool = false) throws -> Outcome {
        let process = Process()
        var command = [executable] + arguments
        if let user = runAsUser {
            let runuser = try Self.locate("runuser", in: ["/usr/sbin", "/sbin", "/usr/bin", "/bin"], environment: environment)
            command = [runuser, "-u", user, "--"] + command
        }
        if daemonizes {
            let closeAndExec = #"for fd in /proc/self/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec "$@""#
            command = ["/bin/bash", "-c", closeAndExec, "beamsync-detach"] + command
        }
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory)
        // Output goes to a file, not a pipe: a server child could otherwise keep a pipe
        // open, and a full pipe would block the child while we wait for it to exit.
        let capture = FileManager.default.temporaryDirectory
            .appendingPathComponent("beamsync-\(UUID().uuidString).out")
        guard FileManager.default.createFile(atPath: capture.path, contents: nil) else {
            throw EmbeddedPostgresError("cannot create a temporary file in \(FileManager.default.temporaryDirectory.path)")
        }
        defer { try? FileManager.default.removeItem(at: capture) }
        let handle = try FileHandle(forWritingTo: capture)
        defer { try? handle.close() }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let output = (try? String(contentsOf: capture, encoding: .utf8)) ?? ""
        return Outcome(status: process.terminationStatus, output: output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The first executable `name` in `directories`, then in PATH.
    static func locate(_ name: String, in directories: [String], environment: [String: String]) throws -> String {
        let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for directory in directories + path {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw EmbeddedPostgresError("\(name) not found in \((directories + path).joined(separator: ":"))")
    }
}
