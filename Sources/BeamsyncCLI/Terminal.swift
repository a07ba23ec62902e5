import Foundation

/// Colour and layout decisions for human output: colour only on a terminal, never with NO_COLOR.
public struct TerminalStyle: Sendable {
    public var colour: Bool

    public init(colour: Bool) { self.colour = colour }

    /// Colour when stdout is a TTY and NO_COLOR is unset (https://no-color.org), unless forced off.
    public static func detect(environment: [String: String] = ProcessInfo.processInfo.environment,
                              fileDescriptor: Int32 = STDOUT_FILENO) -> TerminalStyle {
        let noColour = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        let dumb = environment["TERM"] == "dumb"
        return TerminalStyle(colour: isatty(fileDescriptor) == 1 && !noColour && !dumb)
    }

    public enum Colour: String, Sendable {
        case red = "31", green = "32", yellow = "33", blue = "34", magenta = "35", cyan = "36", bold = "1", dim = "2"
    }

    public func paint(_ text: String, _ colour: Colour) -> String {
        self.colour ? "\u{1B}[\(colour.rawValue)m\(text)\u{1B}[0m" : text
    }
}

/// Writes to standard error without tripping Swift 6's global-state checks.
enum StandardError {
    static func write(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
}
