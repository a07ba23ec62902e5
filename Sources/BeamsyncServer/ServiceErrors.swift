import BeamsyncModel
import BeamsyncOperations
import BeamsyncStore
import Foundation
import Hummingbird

/// How the application layer's refusals become HTTP answers (docs/api.md lists them).
enum ServiceErrors {
    static func map(_ error: ProfileServiceError) -> APIError {
        switch error {
        case .malformedJSON(let m): return .malformedJSON(m)
        case .invalid(let d): return .invalid(d, what: "the deployment profile")
        case .badID(let id): return APIError(.badRequest, code: "invalid_id", "'\(id)' is not a profile id (a UUID)")
        case .write(let w): return map(w)
        }
    }

    static func map(_ error: ProfileWriteError) -> APIError {
        switch error {
        case .notFound(let id):
            return .notFound("no deployment profile with id \(id)")
        case .duplicateName(let name, let id):
            return APIError(.conflict, code: "duplicate_name",
                            "a deployment profile named '\(name)' exists already (id \(id)); names are unique across all projects",
                            details: ["existing_id": .string(id)])
        case .gitManaged(let name, let git):
            return APIError(.conflict, code: "managed_by_git",
                            "deployment profile '\(name)' is managed by git; change it in \(where_(git)) and commit "
                                + "(beamsync applies it), or remove it from git first",
                            details: ["git": gitJSON(git)])
        case .defaultHeldByGit(let scope, let holder, let git):
            return APIError(.conflict, code: "default_managed_by_git",
                            "the default of \(scope) is '\(holder)', which git manages; making another profile the default would demote it. "
                                + "Change is_default in \(where_(git)) instead",
                            details: ["git": gitJSON(git), "default_profile": .string(holder)])
        case .preconditionFailed(let current):
            var headers = HTTPFields()
            headers[.eTag] = current
            return APIError(.preconditionFailed, code: "precondition_failed",
                            "the profile changed since the If-Match version was read; it is now \(current). Read it again and retry",
                            details: ["current_etag": .string(current)], headers: headers)
        case .pinnedByExecutions(let profile, let executions, let total):
            let names = executions.map(\.name).joined(separator: ", ") + (total > executions.count ? ", ..." : "")
            return APIError(.conflict, code: "profile_in_use",
                            "deployment profile '\(profile)' is recorded by \(total) execution\(total == 1 ? "" : "s") (\(names)) "
                                + "and cannot be deleted; their history must stay intact",
                            details: ["executions": .array(executions.map { .object(["name": .string($0.name), "status": .string($0.status)]) }),
                                      "total": .int(Int64(total))])
        case .conflict(let m):
            return APIError(.conflict, code: "conflict", m)
        }
    }

    static func map(_ error: ExecutionServiceError) -> APIError {
        switch error {
        case .malformedJSON(let m): return .malformedJSON(m)
        case .invalid(let d): return .invalid(d, what: "the execution request")
        case .badIdempotencyKey(let m): return APIError(.badRequest, code: "invalid_idempotency_key", m)
        case .idempotencyKeyReused(let key):
            return APIError(.conflict, code: "idempotency_key_reused",
                            "Idempotency-Key '\(key)' was used before with a different request; use a new key for a new request")
        case .notFound(let n): return .notFound("no execution with id or name '\(n)'")
        case .ledger(let e):
            switch e {
            case .invalidRequest(let m): return APIError(.unprocessableContent, code: "invalid_request", m)
            case .profileNotFound(let m): return APIError(.unprocessableContent, code: "profile_not_found", m)
            case .profileOutOfScope: return APIError(.unprocessableContent, code: "profile_out_of_scope", e.description)
            case .invalidProfile(let m): return APIError(.unprocessableContent, code: "invalid_profile", m)
            case .duplicateName: return APIError(.conflict, code: "duplicate_name", e.description)
            case .executionNotFound: return .notFound(e.description)
            case .illegalTransition: return APIError(.conflict, code: "illegal_transition", e.description)
            case .alreadyTerminal: return APIError(.conflict, code: "already_finished", e.description)
            case .conflict(let m): return APIError(.conflict, code: "conflict", m)
            }
        }
    }

    /// "repository R, branch B, file F:L".
    static func where_(_ git: GitOwnership) -> String {
        var parts: [String] = []
        if let r = git.repository { parts.append("repository \(r)") }
        if let b = git.branch { parts.append("branch \(b)") }
        parts.append("file \(git.location)")
        return parts.joined(separator: ", ")
    }

    static func gitJSON(_ git: GitOwnership) -> JSONValue {
        .object(["repository": git.repository.map(JSONValue.string) ?? .null, "branch": git.branch.map(JSONValue.string) ?? .null,
                 "path": git.path.map(JSONValue.string) ?? .null, "line": git.line.map { .int(Int64($0)) } ?? .null,
                 "revision": git.revision.map(JSONValue.string) ?? .null])
    }
}
