import Foundation

/// Runs a program to its end and captures its standard output (standard error is discarded).
/// For short helper programs (git, curl, ssh-keygen) whose output fits a pipe's reading loop.
public enum ProgramOutput {
    public struct Failed: Error, CustomStringConvertible {
        public var program: String
        public var arguments: [String]
        public var status: Int32
        public var description: String { "\(program) \(arguments.joined(separator: " ")) exited with \(status)" }
    }

    /// The exit status and everything written to standard output.
    public static func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, stdout: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Standard output of a run that must succeed; a non-zero exit throws `Failed`.
    public static func of(_ program: String, _ arguments: [String]) throws -> String {
        let (status, stdout) = try run(program, arguments)
        guard status == 0 else { throw Failed(program: program, arguments: arguments, status: status) }
        return stdout
    }
}
