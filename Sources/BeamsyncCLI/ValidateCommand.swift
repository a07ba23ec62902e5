import ArgumentParser
import BeamsyncModel
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

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() throws {
        guard format != .markdown else { throw ValidationError("validate supports --format text or json") }
        let report = ValidationRun.run(paths: paths.isEmpty ? ["."] : paths)
        switch format {
        case .json: print(report.json().canonicalStringPretty)
        default: print(report.text(style: .detect()), terminator: "")
        }
        if !report.isValid { throw ExitCode(1) }
    }
}

/// The result of validating one or more inputs, with its renderers.
public struct ValidationReport: Sendable {
    public var files: [String]
    public var documents: Int
    public var diagnostics: [Diagnostic]

    public var isValid: Bool { !diagnostics.hasErrors }

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

    /// Stable JSON: `{valid, files, documents, errors, warnings, diagnostics: [...]}`.
    public func json() -> JSONValue {
        .object([
            "valid": .bool(isValid),
            "files": .int(Int64(files.count)),
            "documents": .int(Int64(documents)),
            "errors": .int(Int64(diagnostics.errors.count)),
            "warnings": .int(Int64(diagnostics.warnings.count)),
            "diagnostics": .array(diagnostics.map(\.jsonValue)),
        ])
    }
}

extension Diagnostic {
    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "severity": .string(severity.rawValue), "code": .string(code.rawValue),
            "path": .string(path), "message": .string(message),
            "hint": hint.map(JSONValue.string) ?? .null,
            "related": .array(related.map { .string($0.description) }),
        ]
        if let l = location {
            o["file"] = .string(l.file)
            o["line"] = .int(Int64(l.line))
            o["column"] = .int(Int64(l.column))
        } else {
            o["file"] = .null; o["line"] = .null; o["column"] = .null
        }
        return .object(o)
    }
}

public enum ValidationRun {
    /// Validates each path: directories as whole repositories, loose files together.
    public static func run(paths: [String], options: LoadOptions = .init()) -> ValidationReport {
        var report = ValidationReport(files: [], documents: 0, diagnostics: [])
        var looseFiles: [SourceFile] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                report.diagnostics.append(Diagnostic(code: .readFailure, location: nil, path: path,
                    message: "no such file or directory", hint: "check the path"))
                continue
            }
            if isDirectory.boolValue {
                let tree = DirectoryTree.read(root: path)
                let result = DesiredStateLoader.load(files: tree.files, options: options)
                let prefix = path == "." ? "" : (path.hasSuffix("/") ? path : path + "/")
                let documentFiles = tree.files.filter { DesiredStateLoader.isDocumentFile($0.path) }
                if documentFiles.isEmpty {
                    report.diagnostics.append(Diagnostic(.warning, code: .emptyDocument, location: nil, path: path,
                        message: "no documents found (looked in profiles/, projects/, executions/ and beamsync.yaml)",
                        hint: "point at the repository root, or name files directly"))
                }
                report.files += documentFiles.map { prefix + $0.path }
                report.documents += result.documentsPerFile.values.reduce(0, +)
                report.diagnostics += (tree.diagnostics + result.diagnostics).map { $0.prefixingFiles(with: prefix) }
            } else if let data = fm.contents(atPath: path) {
                looseFiles.append(SourceFile(path: path, bytes: [UInt8](data)))
            } else {
                report.diagnostics.append(Diagnostic(code: .readFailure, location: nil, path: path,
                    message: "cannot read file", hint: "check its permissions"))
            }
        }
        if !looseFiles.isEmpty {
            let result = DesiredStateLoader.loadLoose(files: looseFiles, options: options)
            report.files += looseFiles.map(\.path)
            report.documents += result.documentsPerFile.values.reduce(0, +)
            report.diagnostics += result.diagnostics
        }
        return report
    }
}

extension Diagnostic {
    func prefixingFiles(with prefix: String) -> Diagnostic {
        guard !prefix.isEmpty else { return self }
        var d = self
        if let l = d.location { d.location = SourceLocation(file: prefix + l.file, line: l.line, column: l.column) }
        d.related = d.related.map { SourceLocation(file: prefix + $0.file, line: $0.line, column: $0.column) }
        return d
    }
}
