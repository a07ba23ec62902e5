import ArgumentParser
import Foundation

/// `plan`'s formats: the terminal diff, the plan as JSON (what `--out` saves), a pull-request comment.
enum PlanFormat: String, Sendable, CaseIterable, ExpressibleByArgument {
    case text
    case json
    case markdown
}

/// What every other command renders: lines for people, or one JSON document.
enum TextOrJSON: String, Sendable, CaseIterable, ExpressibleByArgument {
    case text
    case json
}

/// The JSON every command prints: sorted keys, indented, ISO 8601 times, `/` unescaped.
enum JSONOutput {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "null"
    }
}
