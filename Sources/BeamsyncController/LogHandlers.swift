import BeamsyncModel
import BeamsyncTime
import Foundation
import Logging

/// Structured logs: one JSON object per line (for journald, Kubernetes, Loki) or a readable line
/// on a terminal. Written to standard error; metadata values are strings.
public struct BeamsyncLogHandler: LogHandler {
    public enum Format: Sendable { case json, text }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let format: Format

    public init(label: String, format: Format, level: Logger.Level = .info) {
        self.label = label
        self.format = format
        self.logLevel = level
    }

    /// JSON unless standard error is a terminal.
    public static func bootstrap(level: Logger.Level = .info) {
        let format: Format = isatty(STDERR_FILENO) == 1 ? .text : .json
        LoggingSystem.bootstrap { BeamsyncLogHandler(label: $0, format: format, level: level) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        if let error = event.error { all["error"] = .string("\(error)") }
        let line = Self.render(format: format, level: event.level, label: label, message: "\(event.message)", metadata: all, date: Date())
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func render(format: Format, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata, date: Date) -> String {
        let time = UTCTimestamp(date).iso8601(milliseconds: true)
        switch format {
        case .text:
            let extras = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return "\(time) \(level.rawValue.uppercased()) \(message)" + (extras.isEmpty ? "" : " \(extras)")
        case .json:
            var fields: [(String, String)] = [("time", time), ("level", level.rawValue), ("logger", label), ("msg", message)]
            for (k, v) in metadata.sorted(by: { $0.key < $1.key }) { fields.append((k, "\(v)")) }
            return "{" + fields.map { "\(jsonString($0.0)):\(jsonString($0.1))" }.joined(separator: ",") + "}"
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
