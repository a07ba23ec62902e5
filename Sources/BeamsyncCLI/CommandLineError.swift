/// A runtime failure of a command (not a misuse of its arguments): printed as one line,
/// `Error: ...`, with exit status 1 and without the usage text that a `ValidationError` (exit 64)
/// brings.
struct CommandFailure: Error, CustomStringConvertible {
    let message: String

    init(_ message: String) {
        // One line: a multi-line cause is joined, so the message stays greppable.
        self.message = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "; ")
    }

    var description: String { message }
}
