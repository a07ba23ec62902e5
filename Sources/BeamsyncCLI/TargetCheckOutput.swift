import BeamsyncModel
import BeamsyncOperations
import BeamsyncPlan
import Foundation

/// A target check as the ping commands print it; like every output, through the redaction
/// function (a step's detail quotes what servers answered).
enum TargetCheckOutput {
    static func print(_ report: TargetCheckReport, format: TextOrJSON) {
        Swift.print(SecretRedaction.redact(render(report, format: format)), terminator: "")
    }

    static func render(_ report: TargetCheckReport, format: TextOrJSON) -> String {
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            let body = (try? JSONValue.parse(bytes: Array(encoder.encode(report)))) ?? .null
            var object = body.objectValue ?? [:]
            object["passed"] = .bool(report.passed)
            return String(decoding: (try? encoder.encode(JSONValue.object(object))) ?? Data(), as: UTF8.self) + "\n"
        case .text:
            let style = TerminalStyle.detect()
            return TextRenderer(paint: { text, tone in
                switch tone {
                case .add: style.paint(text, .green)
                case .remove: style.paint(text, .red)
                case .dim: style.paint(text, .dim)
                case .bold: style.paint(text, .bold)
                default: text
                }
            }).targetCheck(report)
        }
    }
}
