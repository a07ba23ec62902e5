import BeamsyncModel
import Foundation

/// A deployment profile row as PostgreSQL holds it (beampipe's `daliuge_deployment_profile`).
public struct LiveProfile: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var description: String?
    public var projectModule: String?
    public var isDefault: Bool
    public var maxConcurrentExecutions: Int?
    public var translation: JSONValue
    public var deployment: JSONValue
    public var revision: Int
    /// The stored column; may be NULL for rows written by older beampipe versions.
    public var storedSHA256: String?

    public init(id: String, name: String, description: String? = nil, projectModule: String? = nil, isDefault: Bool = false,
                maxConcurrentExecutions: Int? = nil, translation: JSONValue, deployment: JSONValue, revision: Int = 1,
                storedSHA256: String? = nil) {
        self.id = id
        self.name = name
        self.description = description
        self.projectModule = projectModule
        self.isDefault = isDefault
        self.maxConcurrentExecutions = maxConcurrentExecutions
        self.translation = translation
        self.deployment = deployment
        self.revision = revision
        self.storedSHA256 = storedSHA256
    }

    public var scope: ProfileScope { projectModule.map(ProfileScope.project) ?? .global }

    /// The same object beampipe hashes, rebuilt from the columns (never trusting the stored hash).
    public var canonicalSpec: JSONValue {
        DeploymentProfile.canonicalSpec(name: name, description: description, projectModule: projectModule, isDefault: isDefault,
                                        maxConcurrentExecutions: maxConcurrentExecutions, translation: translation, deployment: deployment)
    }

    public var specSHA256: String { SHA256Digest.hex(canonicalSpec.canonicalBytes) }
}

/// The active version of a project config.
public struct LiveProjectConfig: Sendable, Hashable, Codable {
    public var id: String
    public var projectID: String
    public var version: Int
    public var spec: JSONValue
    public var storedSHA256: String?

    public init(id: String, projectID: String, version: Int, spec: JSONValue, storedSHA256: String? = nil) {
        self.id = id
        self.projectID = projectID
        self.version = version
        self.spec = spec
        self.storedSHA256 = storedSHA256
    }
}

/// What beamsync applied last time for one object (the `gitops_objects` inventory).
public struct InventoryEntry: Sendable, Hashable, Codable {
    public var kind: DocumentKind
    public var name: String
    public var path: String?
    public var blobID: String?
    /// Hash of the spec beamsync wrote; a live hash that differs means someone changed the row.
    public var specSHA256: String
    public var appliedRevision: String?

    public init(kind: DocumentKind, name: String, path: String? = nil, blobID: String? = nil, specSHA256: String, appliedRevision: String? = nil) {
        self.kind = kind
        self.name = name
        self.path = path
        self.blobID = blobID
        self.specSHA256 = specSHA256
        self.appliedRevision = appliedRevision
    }
}

/// beampipe's execution statuses.
public enum ExecutionStatus: String, Sendable, Codable, CaseIterable {
    case pending, running
    case awaitingScheduler = "awaiting_scheduler"
    case completed, failed, cancelled
    case notSubmitted = "not_submitted"
    case retrying

    public var isTerminal: Bool { [.completed, .failed, .cancelled, .notSubmitted].contains(self) }
}

/// An execution row, as far as planning needs it: names are idempotency keys, pins block deletes.
public struct LiveExecution: Sendable, Hashable, Codable {
    public var name: String
    public var projectModule: String
    public var profileID: String?
    public var status: ExecutionStatus

    public init(name: String, projectModule: String, profileID: String?, status: ExecutionStatus) {
        self.name = name
        self.projectModule = projectModule
        self.profileID = profileID
        self.status = status
    }
}

/// Everything the planner needs to know about the database, read in one snapshot.
public struct LiveState: Sendable, Codable {
    public var profiles: [LiveProfile]
    public var projects: [LiveProjectConfig]
    public var inventory: [InventoryEntry]
    public var executions: [LiveExecution]
    /// Bumped by every apply; a saved plan records it and is refused when it moved.
    public var serial: Int64

    public init(profiles: [LiveProfile] = [], projects: [LiveProjectConfig] = [], inventory: [InventoryEntry] = [],
                executions: [LiveExecution] = [], serial: Int64 = 0) {
        self.profiles = profiles
        self.projects = projects
        self.inventory = inventory
        self.executions = executions
        self.serial = serial
    }

    /// Linear; planners build a `LiveIndex` once instead.
    public func inventoryEntry(_ kind: DocumentKind, _ name: String) -> InventoryEntry? {
        inventory.first { $0.kind == kind && $0.name == name }
    }

    /// Changes whenever any row or inventory entry the planner reads changes.
    public var fingerprint: String { fingerprint(profileHashes: Dictionary(profiles.map { ($0.id, $0.specSHA256) }, uniquingKeysWith: { a, _ in a })) }

    func fingerprint(profileHashes: [String: String]) -> String {
        var lines: [String] = []
        lines.reserveCapacity(profiles.count + inventory.count + projects.count + executions.count)
        for p in profiles { lines.append("P\t\(p.id)\t\(p.name)\t\(profileHashes[p.id] ?? p.specSHA256)\t\(p.revision)") }
        for p in projects { lines.append("C\t\(p.id)\t\(p.projectID)\t\(p.version)\t\(p.spec.canonicalString)") }
        for i in inventory { lines.append("I\t\(i.kind.rawValue)\t\(i.name)\t\(i.specSHA256)") }
        for e in executions { lines.append("E\t\(e.name)\t\(e.status.rawValue)\t\(e.profileID ?? "")") }
        lines.sort()
        return SHA256Digest.hex(Array(lines.joined(separator: "\n").utf8))
    }

    /// Live profiles as references that desired documents may resolve to.
    public var externalProfiles: [ExternalProfile] {
        profiles.map { ExternalProfile(name: $0.name, scope: $0.scope, isDefault: $0.isDefault) }
    }
}

/// Dictionary lookups over a live state, built once per plan (10,000 objects must not cost n²).
struct LiveIndex {
    let inventory: [DocumentKind: [String: InventoryEntry]]
    let profilesByName: [String: LiveProfile]
    let projectsByID: [String: LiveProjectConfig]
    /// Each live profile's hash, computed once (by id).
    let profileHashes: [String: String]

    init(_ live: LiveState) {
        var inv: [DocumentKind: [String: InventoryEntry]] = [:]
        for e in live.inventory { inv[e.kind, default: [:]][e.name] = e }
        inventory = inv
        profilesByName = Dictionary(live.profiles.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        projectsByID = Dictionary(live.projects.map { ($0.projectID, $0) }, uniquingKeysWith: { a, _ in a })
        profileHashes = Self.hashes(live.profiles)
    }

    func entry(_ kind: DocumentKind, _ name: String) -> InventoryEntry? { inventory[kind]?[name] }

    /// Hashing 10,000 rows is the planner's largest cost; it is spread over the cores.
    static func hashes(_ profiles: [LiveProfile]) -> [String: String] {
        guard profiles.count > 256 else { return Dictionary(profiles.map { ($0.id, $0.specSHA256) }, uniquingKeysWith: { a, _ in a }) }
        let chunks = ProcessInfo.processInfo.activeProcessorCount * 4
        let slots = HashSlots(count: chunks)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            var part: [(String, String)] = []
            var i = chunk
            while i < profiles.count {
                part.append((profiles[i].id, profiles[i].specSHA256))
                i += chunks
            }
            slots.set(chunk, part)
        }
        var out: [String: String] = [:]
        out.reserveCapacity(profiles.count)
        for part in slots.all() { for (id, h) in part { out[id] = h } }
        return out
    }
}

/// One slot per worker, written once each.
private final class HashSlots: @unchecked Sendable {
    private var slots: [[(String, String)]]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: [], count: count) }
    func set(_ i: Int, _ value: [(String, String)]) { lock.lock(); slots[i] = value; lock.unlock() }
    func all() -> [[(String, String)]] { lock.lock(); defer { lock.unlock() }; return slots }
}
