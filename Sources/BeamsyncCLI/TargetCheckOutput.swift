import BeamsyncPlan
import Foundation

/// Renders a target check (`slurm ping`): one line per step with its time, what was found or
/// what went wrong, and for the failed step what to check.
enum TargetCheckOutput {
    static func text(_ report: TargetCheckReport, style: TerminalStyle) -> String {
        var lines = ["\(report.kind.rawValue) ping: profile '\(report.profile)' → \(report.target)"]
        let width = max(12, report.steps.map(\.name.count).max() ?? 0)
        for step in report.steps {
            let name = step.name.padding(toLength: width, withPad: " ", startingAt: 0)
            switch step.outcome {
            case .passed:
                lines.append("  \(style.paint("✓", .green)) \(name) \(seconds(step.seconds))  \(step.detail ?? step.description)")
            case .failed:
                lines.append("  \(style.paint("✗", .red)) \(name) \(seconds(step.seconds))  \(step.description): \(step.detail ?? "failed")")
                if let hint = step.hint { lines.append("      \(style.paint("check:", .bold)) \(hint)") }
            case .skipped:
                lines.append("  \(style.paint("-", .dim)) \(name) \(style.paint("skipped", .dim))")
            }
        }
        let total = report.steps.map(\.seconds).reduce(0, +)
        if let failure = report.firstFailure {
            lines.append(style.paint("✗ failed at \(failure.name)", .red) + " after \(seconds(total).trimmingCharacters(in: .whitespaces))")
        } else {
            lines.append(style.paint("✓ every check passed", .green) + " in \(seconds(total).trimmingCharacters(in: .whitespaces))")
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ report: TargetCheckReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var object = try JSONSerialization.jsonObject(with: encoder.encode(report)) as? [String: Any] ?? [:]
        object["passed"] = report.passed
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// `  0.123 s`, fixed width, without a locale-aware formatter.
    static func seconds(_ value: Double) -> String {
        let ms = Int((value * 1000).rounded())
        let text = "\(ms / 1000).\(String(repeating: "0", count: 3 - String(ms % 1000).count))\(ms % 1000) s"
        return String(repeating: " ", count: max(0, 9 - text.count)) + text
    }
}
