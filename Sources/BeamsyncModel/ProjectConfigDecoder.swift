/// Placeholder decoder: replaced by the full section-by-section validator.
enum ProjectConfigDecoder {
    static func decode(_ root: SourceNode, sink: inout DiagnosticSink) -> ProjectConfig? {
        guard var doc = FieldReader(root, path: "", sink: &sink, what: "a ProjectConfig mapping") else { return nil }
        let before = sink.diagnostics.errors.count
        let api = doc.enumeration("apiVersion", ProjectConfig.APIVersion.self, sink: &sink, required: true).value
        _ = doc.string("kind", sink: &sink, required: true)
        var id: String? = nil
        if let meta = doc.child("metadata"), var m = FieldReader(meta, path: "metadata", sink: &sink) {
            id = m.string("id", sink: &sink, required: true).value
            m.reportUnknownKeys(sink: &sink)
        }
        doc.markKnown(doc.mapping.entries.map(\.key))
        guard sink.diagnostics.errors.count == before, let api, let id else { return nil }
        return ProjectConfig(apiVersion: api, id: id, spec: root.jsonValue)
    }
}
