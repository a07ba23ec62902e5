/// Decodes and validates a ProjectConfig document. `apiVersion: beampipe.dev/v1` documents are
/// read with beampipe 0.1.0's shapes and rules; everything else with 0.1.6's (an unknown version
/// is an error naming the supported ones). Unlike beampipe, which stops at the first parse error,
/// every problem is reported, each at its node.
public enum ProjectConfigDecoder {
    /// Returns the config when the document has no errors; every problem goes to `sink`.
    public static func decode(_ root: SourceNode, sink: inout DiagnosticSink) -> ProjectConfig? {
        let result = decodeWithFindings(root, file: sink.file)
        for d in result.diagnostics { sink.add(d) }
        return result.config
    }

    public struct Result: Sendable {
        public var config: ProjectConfig?
        /// The document as parsed when it had no parse problems, even if validation failed
        /// (beampipe's parse/validate split: it can be serialised and hashed).
        public var parsed: ProjectConfig?
        /// Parse problems and validation findings (and warnings), in detection order.
        public var diagnostics: [Diagnostic]
        /// The validation findings with beampipe's codes (empty when parsing failed badly enough
        /// that no document could be built).
        public var findings: [ProjectConfigFinding]
    }

    public static func decodeWithFindings(_ root: SourceNode, file: String) -> Result {
        let isV1: Bool
        if case .mapping(let m) = root, case .scalar(let s)? = m.value(for: "apiVersion"), s.value == .string(ProjectConfig.APIVersion.v1.rawValue) {
            isV1 = true
        } else {
            isV1 = false
        }
        var ctx = ProjectDecodeContext(file: file, dialect: isV1 ? .v1 : .v2)
        guard var r = ProjectStructReader(root, path: "", structName: "ProjectConfig",
                                          fields: isV1 ? ProjectV1Decoder.topFields : ProjectV2Decoder.topFields, ctx: &ctx) else {
            return Result(config: nil, parsed: nil, diagnostics: ctx.sink.diagnostics, findings: [])
        }
        let apiVersion = r.required("apiVersion", ctx: &ctx, expected: ProjectConfig.APIVersion.v2.rawValue)
            .flatMap { ctx.string($0, path: "apiVersion", rule: .line) }
        let kind = r.required("kind", ctx: &ctx, expected: "ProjectConfig").flatMap { ctx.string($0, path: "kind", rule: .line) }

        let document: ProjectConfig.Document
        let findings: [ProjectConfigFinding]
        if isV1 {
            let c = ProjectV1Decoder.decode(&r, apiVersion: apiVersion ?? "", kind: kind ?? "", ctx: &ctx)
            r.finish(ctx: &ctx)
            document = .v1(c)
            findings = ProjectV1Validator.validate(c, map: ctx.map) + [legacyWarning(ctx.map)]
        } else {
            // An unreadable apiVersion was reported already; validate as v2 without repeating it.
            let c = ProjectV2Decoder.decode(&r, apiVersion: apiVersion ?? ProjectConfig.APIVersion.v2.rawValue, kind: kind ?? "ProjectConfig", ctx: &ctx)
            r.finish(ctx: &ctx)
            document = .v2(c)
            findings = ProjectV2Validator.validate(c, map: ctx.map)
        }
        // A rule about a value that failed to parse would only restate that problem.
        let kept = findings.filter { !ctx.overlapsProblem($0.path) }
        var diagnostics = ctx.sink.diagnostics
        let parsed = diagnostics.hasErrors ? nil : ProjectConfig(document)
        diagnostics += kept.map { $0.diagnostic(file: file) }
        return Result(config: diagnostics.hasErrors ? nil : parsed, parsed: parsed, diagnostics: diagnostics, findings: kept)
    }

    /// beampipe 0.1.6 rejects v1 at upload (`legacy_api_version`); beamsync still reads it, but says so.
    static func legacyWarning(_ map: ProjectSourceMap) -> ProjectConfigFinding {
        let position = map.value("apiVersion")
        return ProjectConfigFinding(severity: .warning, beampipeCode: "legacy_api_version", code: .legacyAPIVersion, path: "apiVersion",
                                    message: "apiVersion beampipe.dev/v1 is legacy: beampipe 0.1.6 rejects it with 'apiVersion must be beampipe.dev/v2'",
                                    hint: "v1 project configs are legacy; convert the document to the v2 typed shape before upload",
                                    line: position?.line, column: position?.column)
    }
}

extension ProjectDecodeContext {
    /// Whether `path` is, contains or lies inside a path that had a parse problem.
    func overlapsProblem(_ path: String) -> Bool {
        problemPaths.contains { q in
            q == path || Self.isInside(path, q) || Self.isInside(q, path)
        }
    }

    static func isInside(_ inner: String, _ outer: String) -> Bool {
        guard !outer.isEmpty, inner.hasPrefix(outer) else { return false }
        let rest = inner.dropFirst(outer.count)
        return rest.hasPrefix(".") || rest.hasPrefix("[")
    }
}
