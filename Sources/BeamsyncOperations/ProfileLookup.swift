import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore

/// A profile named on the command line was not found, or its source did not load.
public struct ProfileLookupError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// Validation errors of the repository, when that is why.
    public var diagnostics: [Diagnostic] = []
}

/// Finds one deployment profile by name, in the database or in a repository directory.
public enum ProfileLookup {
    public static func database(_ conn: PGConnection, name: String) async throws -> DeploymentProfile {
        guard let profile = try await DeploymentProfileStore(conn: conn).profile(named: name) else {
            throw ProfileLookupError(description: "no deployment profile named '\(name)' in the database; "
                                     + "check the name (beamsync plan lists the profiles git manages) or use --dir to read a repository")
        }
        return profile
    }

    /// The profile from the repository at `path` (uncommitted edits included), after the same
    /// checks `validate` makes.
    public static func directory(_ path: String, name: String) async throws -> DeploymentProfile {
        let parsed = try await ParsedSource.read(.directory(path))
        let checked = parsed.check(externalProfiles: [])
        let profiles = checked.state?.profiles ?? []
        if let found = profiles.first(where: { $0.value.name == name }) { return found.value }
        if checked.state == nil {
            throw ProfileLookupError(description: "the repository at \(path) does not validate; fix it first (beamsync validate \(path))",
                                     diagnostics: checked.diagnostics)
        }
        throw ProfileLookupError(description: "no deployment profile named '\(name)' in \(path)/profiles"
                                 + (profiles.isEmpty ? "" : " (it has: \(profiles.map(\.value.name).sorted().joined(separator: ", ")))"))
    }
}
