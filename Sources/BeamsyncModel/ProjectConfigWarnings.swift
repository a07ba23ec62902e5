// beampipe's `collect_config_warnings`: when a config replaces the active one, changes
// to the discovery signature, the field map or the transform definitions re-sign discovered
// sources. beampipe compares the serialised sections (None serialises as `null`), so key order
// never matters but adding an empty section does.

extension ProjectConfig {
    /// Warnings for replacing `previous` (the active config) with `current`; none without a previous.
    /// The diagnostics carry no location: the caller knows which file `current` came from.
    public static func warnings(previous: ProjectConfig?, current: ProjectConfig) -> [Diagnostic] {
        guard let previous else { return [] }
        let legacy = current.apiVersion == .v1
        var out: [Diagnostic] = []
        func warn(_ code: String, _ path: String, _ message: String, _ legacyMessage: String) {
            out.append(Diagnostic(.warning, code: .invalidValue, location: nil, path: path,
                                  message: (legacy ? legacyMessage : message) + " [\(code)]"))
        }
        if previous.fingerprint(\.signature) != current.fingerprint(\.signature) {
            warn("signature_changed", "discovery.prepare_metadata.signature",
                 "discovery signature config changed; expect discovery re-signatures and a workflow_run_pending wave",
                 "discovery.prepare_metadata.signature added or changed; expect discovery re-signatures and a workflow_run_pending wave")
        }
        if previous.fingerprint(\.fieldMap) != current.fingerprint(\.fieldMap) {
            warn("field_map_changed", "discovery.prepare_metadata.field_map",
                 "field_map changed; prepared metadata shape and discovery signatures may change",
                 "discovery.prepare_metadata.field_map changed; prepared metadata shape and discovery signatures may change")
        }
        if previous.fingerprint(\.definitions) != current.fingerprint(\.definitions) {
            warn("definitions_changed", "definitions.transforms",
                 "definitions.transforms changed; prepared metadata shape and discovery signatures may change",
                 "definitions.transforms changed; prepared metadata shape and discovery signatures may change")
        }
        return out
    }

    /// The compared sections, each serialised the way its revision's beampipe serialises it.
    struct Fingerprints {
        var signature: [UInt8]
        var fieldMap: [UInt8]
        var definitions: [UInt8]
    }

    func fingerprint(_ part: KeyPath<Fingerprints, [UInt8]>) -> [UInt8] { fingerprints[keyPath: part] }

    var fingerprints: Fingerprints {
        func bytes(_ dialect: ProjectJSONDialect, _ body: (inout ProjectJSONWriter) -> Void) -> [UInt8] {
            var w = ProjectJSONWriter(dialect: dialect)
            body(&w)
            return w.bytes
        }
        switch document {
        case .v2(let c):
            let pm = c.discovery.prepareMetadata
            return Fingerprints(
                signature: bytes(.v2) { w in if let s = pm?.signature { s.write(&w) } else { w.null() } },
                fieldMap: bytes(.v2) { w in if let pm { w.sortedMap(pm.fieldMap) { w, m in m.write(&w) } } else { w.null() } },
                definitions: bytes(.v2) { w in if let d = c.definitions { d.write(&w) } else { w.null() } })
        case .v1(let c):
            let pm = c.discovery.prepareMetadata
            return Fingerprints(
                signature: bytes(.v1) { w in if let s = pm?.signature { s.write(&w) } else { w.null() } },
                fieldMap: bytes(.v1) { w in w.json(pm?.fieldMap ?? .null) },
                definitions: bytes(.v1) { w in if let d = c.definitions { d.write(&w) } else { w.null() } })
        }
    }
}
