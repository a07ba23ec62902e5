import BeamsyncModel
import Foundation

/// The result of validating one or more inputs.
public struct ValidationReport: Sendable {
    public var files: [String]
    public var documents: Int
    public var diagnostics: [Diagnostic]

    public var isValid: Bool { !diagnostics.hasErrors }

    public init(files: [String], documents: Int, diagnostics: [Diagnostic]) {
        self.files = files
        self.documents = documents
        self.diagnostics = diagnostics
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
                let snapshot = DirectoryTree.snapshot(of: path)
                let result = DesiredStateLoader.load(files: snapshot.files, options: options)
                let prefix = snapshot.displayPrefix
                let documentFiles = snapshot.files.filter { DesiredStateLoader.isDocumentFile($0.path) }
                if documentFiles.isEmpty {
                    report.diagnostics.append(Diagnostic(.warning, code: .emptyDocument, location: nil, path: path,
                        message: "no documents found (looked in profiles/, projects/, executions/ and beamsync.yaml)",
                        hint: "point at the repository root, or name files directly"))
                }
                report.files += documentFiles.map { prefix + $0.path }
                report.documents += result.documentsPerFile.values.reduce(0, +)
                report.diagnostics += snapshot.readDiagnostics + result.diagnostics.map { $0.prefixingFiles(with: prefix) }
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
    public func prefixingFiles(with prefix: String) -> Diagnostic {
        guard !prefix.isEmpty else { return self }
        var d = self
        if let l = d.location { d.location = SourceLocation(file: prefix + l.file, line: l.line, column: l.column) }
        d.related = d.related.map { SourceLocation(file: prefix + $0.file, line: $0.line, column: $0.column) }
        return d
    }
}
