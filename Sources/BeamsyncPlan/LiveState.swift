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
    /// The JSONB columns, decoded on first use: a no-op plan of 10,000 rows whose versions match
    /// the inventory never looks at them.
    private var translationColumn: LazyJSON
    private var deploymentColumn: LazyJSON
    public var revision: Int
    /// The stored column; may be NULL for rows written by older beampipe versions.
    public var storedSHA256: String?
    /// The row version's `xmin` as the database reports it (a change detector; see `InventoryEntry.rowVersion`).
    public var rowVersion: String?

    public var translation: JSONValue {
        get { translationColumn.value }
        set { translationColumn = LazyJSON(newValue) }
    }

    public var deployment: JSONValue {
        get { deploymentColumn.value }
        set { deploymentColumn = LazyJSON(newValue) }
    }

    public init(id: String, name: String, description: String? = nil, projectModule: String? = nil, isDefault: Bool = false,
                maxConcurrentExecutions: Int? = nil, translation: JSONValue, deployment: JSONValue, revision: Int = 1,
                storedSHA256: String? = nil, rowVersion: String? = nil) {
        self.init(id: id, name: name, description: description, projectModule: projectModule, isDefault: isDefault,
                  maxConcurrentExecutions: maxConcurrentExecutions, translation: LazyJSON(translation), deployment: LazyJSON(deployment),
                  revision: revision, storedSHA256: storedSHA256, rowVersion: rowVersion)
    }

    /// A row as read from the database, with its JSONB columns as the server printed them.
    public init(id: String, name: String, description: String?, projectModule: String?, isDefault: Bool,
                maxConcurrentExecutions: Int?, translationJSON: String, deploymentJSON: String, revision: Int,
                storedSHA256: String?, rowVersion: String?) {
        self.init(id: id, name: name, description: description, projectModule: projectModule, isDefault: isDefault,
                  maxConcurrentExecutions: maxConcurrentExecutions, translation: LazyJSON(text: translationJSON),
                  deployment: LazyJSON(text: deploymentJSON), revision: revision, storedSHA256: storedSHA256, rowVersion: rowVersion)
    }

    private init(id: String, name: String, description: String?, projectModule: String?, isDefault: Bool,
                 maxConcurrentExecutions: Int?, translation: LazyJSON, deployment: LazyJSON, revision: Int,
                 storedSHA256: String?, rowVersion: String?) {
        self.id = id
        self.name = name
        self.description = description
        self.projectModule = projectModule
        self.isDefault = isDefault
        self.maxConcurrentExecutions = maxConcurrentExecutions
        self.translationColumn = translation
        self.deploymentColumn = deployment
        self.revision = revision
        self.storedSHA256 = storedSHA256
        self.rowVersion = rowVersion
    }

    enum CodingKeys: String, CodingKey {
        case id, name, description, projectModule, isDefault, maxConcurrentExecutions, translation, deployment, revision, storedSHA256, rowVersion
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try c.decode(String.self, forKey: .id), name: try c.decode(String.self, forKey: .name),
                  description: try c.decodeIfPresent(String.self, forKey: .description),
                  projectModule: try c.decodeIfPresent(String.self, forKey: .projectModule),
                  isDefault: try c.decode(Bool.self, forKey: .isDefault),
                  maxConcurrentExecutions: try c.decodeIfPresent(Int.self, forKey: .maxConcurrentExecutions),
                  translation: try c.decode(JSONValue.self, forKey: .translation),
                  deployment: try c.decode(JSONValue.self, forKey: .deployment),
                  revision: try c.decode(Int.self, forKey: .revision),
                  storedSHA256: try c.decodeIfPresent(String.self, forKey: .storedSHA256),
                  rowVersion: try c.decodeIfPresent(String.self, forKey: .rowVersion))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(description, forKey: .description)
        try c.encodeIfPresent(projectModule, forKey: .projectModule)
        try c.encode(isDefault, forKey: .isDefault)
        try c.encodeIfPresent(maxConcurrentExecutions, forKey: .maxConcurrentExecutions)
        try c.encode(translation, forKey: .translation)
        try c.encode(deployment, forKey: .deployment)
        try c.encode(revision, forKey: .revision)
        try c.encodeIfPresent(storedSHA256, forKey: .storedSHA256)
        try c.encodeIfPresent(rowVersion, forKey: .rowVersion)
    }

    public static func == (a: LiveProfile, b: LiveProfile) -> Bool {
        a.id == b.id && a.name == b.name && a.description == b.description && a.projectModule == b.projectModule
            && a.isDefault == b.isDefault && a.maxConcurrentExecutions == b.maxConcurrentExecutions && a.revision == b.revision
            && a.storedSHA256 == b.storedSHA256 && a.rowVersion == b.rowVersion
            && a.translation == b.translation && a.deployment == b.deployment
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(name)
        hasher.combine(revision)
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
    /// The document's line in `path` (nil for entries written before lines were recorded).
    public var line: Int?
    public var blobID: String?
    /// Hash of the spec beamsync wrote; a live hash that differs means someone changed the row.
    public var specSHA256: String
    public var appliedRevision: String?
    /// The version of the row beamsync wrote (profiles only; nil when unknown or no longer
    /// trustworthy). While the live row has this version it is exactly what beamsync wrote, and
    /// `specSHA256` is its hash.
    public var rowVersion: String?

    public init(kind: DocumentKind, name: String, path: String? = nil, blobID: String? = nil, specSHA256: String,
                appliedRevision: String? = nil, rowVersion: String? = nil) {
        self.kind = kind
        self.name = name
        self.path = path
        self.blobID = blobID
        self.specSHA256 = specSHA256
        self.appliedRevision = appliedRevision
        self.rowVersion = rowVersion
    }

    /// Whether `origin` (where the document is now) differs from the recorded place.
    public func isElsewhere(than origin: DocumentOrigin) -> Bool {
        path != origin.file || line != origin.line || blobID != origin.blobID
    }
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
    public var fingerprint: String { fingerprint(profileHashes: LiveIndex(self).profileHashes) }

    func fingerprint(profileHashes: [String: String]) -> String {
        // One line per row and inventory entry, each section in byte order of its unique key,
        // streamed into one buffer (string interpolation and a global sort cost more than the hash).
        var out: [UInt8] = []
        out.reserveCapacity(160 * (profiles.count + inventory.count) + 64 * (projects.count + executions.count))
        func field(_ s: String) { out.append(0x09); out.append(contentsOf: s.utf8) }
        func ordered<T>(_ items: [T], by key: (T) -> String) -> [Int] {
            let keys = items.map(key)
            return items.indices.sorted { keys[$0].utf8.lexicographicallyPrecedes(keys[$1].utf8) }
        }
        for i in ordered(profiles, by: \.id) {
            let p = profiles[i]
            out.append(UInt8(ascii: "P")); field(p.id); field(p.name); field(profileHashes[p.id] ?? p.specSHA256); field(String(p.revision))
            out.append(0x0A)
        }
        for i in ordered(projects, by: \.id) {
            let p = projects[i]
            out.append(UInt8(ascii: "C")); field(p.id); field(p.projectID); field(String(p.version)); field(p.spec.canonicalString)
            out.append(0x0A)
        }
        for i in ordered(inventory, by: { $0.kind.rawValue + "\t" + $0.name }) {
            let e = inventory[i]
            out.append(UInt8(ascii: "I")); field(e.kind.rawValue); field(e.name); field(e.specSHA256)
            out.append(0x0A)
        }
        for i in ordered(executions, by: \.name) {
            let e = executions[i]
            out.append(UInt8(ascii: "E")); field(e.name); field(e.status.rawValue); field(e.profileID ?? "")
            out.append(0x0A)
        }
        return SHA256Digest.hex(out)
    }

    /// Live profiles as references that desired documents may resolve to.
    /// Each live profile's spec hash by row id (the recorded hash for rows beamsync wrote, else computed).
    public var profileHashes: [String: String] { LiveIndex(self).profileHashes }

    public var externalProfiles: [ExternalProfile] {
        profiles.map { ExternalProfile(name: $0.name, scope: $0.scope, isDefault: $0.isDefault) }
    }
}

/// Dictionary lookups over a live state, built once per plan (10,000 objects must not cost n²).
/// The dictionaries hold positions, not copies: copying 10,000 rows was most of a no-op plan.
struct LiveIndex {
    let live: LiveState
    private let inventoryPositions: [DocumentKind: [String: Int]]
    private let profilePositions: [String: Int]
    private let projectPositions: [String: Int]
    /// Each live profile's hash, computed once (by id).
    let profileHashes: [String: String]

    init(_ live: LiveState) {
        self.live = live
        var inv: [DocumentKind: [String: Int]] = [:]
        for kind in DocumentKind.allCases { inv[kind] = [:] }
        for (i, e) in live.inventory.enumerated() where inv[e.kind]![e.name] == nil { inv[e.kind]![e.name] = i }
        inventoryPositions = inv
        var profiles: [String: Int] = [:]
        profiles.reserveCapacity(live.profiles.count)
        for (i, p) in live.profiles.enumerated() where profiles[p.name] == nil { profiles[p.name] = i }
        profilePositions = profiles
        var projects: [String: Int] = [:]
        for (i, p) in live.projects.enumerated() where projects[p.projectID] == nil { projects[p.projectID] = i }
        projectPositions = projects
        profileHashes = Self.hashes(live.profiles, inventory: inv[.deploymentProfile]!, entries: live.inventory)
    }

    func entry(_ kind: DocumentKind, _ name: String) -> InventoryEntry? {
        inventoryPositions[kind]?[name].map { live.inventory[$0] }
    }

    func profile(named name: String) -> LiveProfile? { profilePositions[name].map { live.profiles[$0] } }
    func project(id: String) -> LiveProjectConfig? { projectPositions[id].map { live.projects[$0] } }

    /// Each live profile's spec hash. A row still at the version beamsync wrote has the recorded
    /// hash; every other row (changed elsewhere, unmanaged, adopted, or of unknown version) is
    /// rebuilt and hashed, spread over the cores.
    static func hashes(_ profiles: [LiveProfile], inventory: [String: Int], entries: [InventoryEntry]) -> [String: String] {
        var out: [String: String] = [:]
        out.reserveCapacity(profiles.count)
        var unknown: [LiveProfile] = []
        for i in profiles.indices {
            if let version = profiles[i].rowVersion, let e = inventory[profiles[i].name], entries[e].rowVersion == version {
                out[profiles[i].id] = entries[e].specSHA256
            } else {
                unknown.append(profiles[i])
            }
        }
        guard unknown.count > 256 else {
            for p in unknown { out[p.id] = p.specSHA256 }
            return out
        }
        let rows = unknown
        let chunks = ProcessInfo.processInfo.activeProcessorCount * 4
        let slots = HashSlots(count: chunks)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            var part: [(String, String)] = []
            var i = chunk
            while i < rows.count {
                part.append((rows[i].id, rows[i].specSHA256))
                i += chunks
            }
            slots.set(chunk, part)
        }
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

/// A JSON column decoded at most once, on first use, from the text the server sent. Shared
/// between copies of a row (a class), so the decode is paid once; guarded by a lock because the
/// planner hashes rows on several threads.
final class LazyJSON: @unchecked Sendable {
    private let lock = NSLock()
    private var text: String?
    private var decoded: JSONValue?

    init(_ value: JSONValue) { decoded = value }
    init(text: String) { self.text = text }

    var value: JSONValue {
        lock.lock()
        defer { lock.unlock() }
        if let decoded { return decoded }
        // The server printed this from a JSONB value, so it parses; should it not, the row hashes
        // differently from anything git holds and shows up as drift rather than vanishing.
        let value = (try? JSONValue.parse(text ?? "null")) ?? .string(text ?? "")
        decoded = value
        text = nil
        return value
    }
}
