import ArgumentParser
import BeamsyncModel
import BeamsyncOperations
import Foundation

/// `beamsync validate [PATH ...]`: check documents without touching any database.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Validate a repository directory or individual documents.",
        discussion: """
            A directory is read as a beamsync repository (profiles/, projects/, executions/, graphs/, \
            beamsync.yaml) and checked as a whole: unique names, one default per scope, references \
            that resolve. Files are checked on their own; their kind comes from `kind:`, their folder, \
            or defaults to DeploymentProfile. Exits 0 when everything is valid, 1 otherwise.
            """
    )

    @Argument(help: "Repository directories or document files (default: the current directory).")
    var paths: [String] = []

    @Option(help: "Output format: text, or json (the report).")
    var format: TextOrJSON = .text

    func run() throws {
        let report = ValidationRun.run(paths: paths.isEmpty ? ["."] : paths)
        switch format {
        case .json: print(SecretRedaction.redact(report.json().canonicalStringPretty))
        case .text: print(SecretRedaction.redact(report.text(style: .detect())), terminator: "")
        }
        if !report.isValid { throw ExitCode(1) }
    }
}

/// How `validate` and failed plans show a report on a terminal.
extension ValidationReport {
    public func text(style: TerminalStyle) -> String {
        var out = ""
        var byFile: [String: [Diagnostic]] = [:]
        var general: [Diagnostic] = []
        for d in diagnostics {
            if let f = d.location?.file { byFile[f, default: []].append(d) } else { general.append(d) }
        }
        for d in general { out += line(for: d, style: style, showPosition: false) }
        for file in byFile.keys.sorted() {
            out += style.paint(file, .bold) + "\n"
            for d in byFile[file]! { out += line(for: d, style: style, showPosition: true) }
        }
        let errors = diagnostics.errors.count, warnings = diagnostics.warnings.count
        let summary = "\(files.count) file\(files.count == 1 ? "" : "s"), \(documents) document\(documents == 1 ? "" : "s"): " +
            "\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")"
        out += errors == 0 ? style.paint("✓ valid: ", .green) + summary + "\n" : style.paint("✗ invalid: ", .red) + summary + "\n"
        return out
    }

    private func line(for d: Diagnostic, style: TerminalStyle, showPosition: Bool) -> String {
        let severity = d.severity == .error ? style.paint("error", .red) : style.paint("warning", .yellow)
        var s = "  "
        if showPosition, let l = d.location { s += style.paint("\(l.file):\(l.line):\(l.column)", .dim) + ": " }
        s += severity + ": "
        if !d.path.isEmpty { s += style.paint(d.path, .cyan) + ": " }
        s += d.message + "\n"
        if let hint = d.hint { s += "      " + style.paint("hint:", .blue) + " " + hint + "\n" }
        for r in d.related { s += "      see also \(r)\n" }
        return s
    }
}
