/// JSON Merge Patch (RFC 7396): members of the patch replace the target's, `null` removes a
/// member, nested objects merge recursively, anything else (arrays included) replaces whole.
public enum JSONMergePatch {
    public static func apply(_ patch: JSONValue, to target: JSONValue?) -> JSONValue {
        guard case .object(let members) = patch else { return patch }
        var result = target?.objectValue ?? [:]
        for (key, value) in members {
            if value.isNull {
                result[key] = nil
            } else {
                result[key] = apply(value, to: result[key])
            }
        }
        return .object(result)
    }
}
