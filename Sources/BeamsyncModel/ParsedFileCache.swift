import Foundation

/// Parsed files by (path, git blob id): an unchanged blob is never parsed twice. Thread-safe.
///
/// A controller keeps one entry per file of its current tree between reconciles: 10,000 in a large
/// repository, so the layout matters more than the lookup. A file holding only profiles and no
/// findings (nearly every file) is packed (`ProfilePacking`) into one contiguous buffer, a few
/// hundred bytes each, unpacked on a hit; anything else (project configs, executions, the policy,
/// files with findings) is rare and kept decoded. Entries stored during a load wait in their own
/// small buffers and move into the shared one when the load ends (`consolidate`), so lookups on
/// other threads never race a growing buffer; `retain(onlyFilesOf:)` rebuilds it at its exact size.
public final class ParsedFileCache: @unchecked Sendable {
    private enum Entry {
        case packed(offset: Int, count: Int)
        case pending([UInt8])
        indirect case decoded(DesiredStateLoader.ParsedFile, blobID: String)
    }

    /// Keyed by a hash of (path, blob id); each entry carries both and is checked on lookup, so a
    /// collision costs a miss, never a wrong answer.
    private var index: [Int: Entry] = [:]
    private var slab: [UInt8] = []
    private let lock = NSLock()
    public let capacity: Int
    public private(set) var hits = 0
    public private(set) var misses = 0

    /// Above `capacity` entries the cache starts over at the end of a load (a controller retains
    /// only its current tree, so only a caller that never calls `retain` gets there).
    public convenience init(capacity: Int = 50_000) {
        self.init(capacity: capacity, hash: { path, blobID in
            var h = Hasher()
            h.combine(path)
            h.combine(blobID)
            return h.finalize()
        })
    }

    /// `hash` is replaceable so tests can make keys collide.
    init(capacity: Int, hash: @escaping @Sendable (String, String) -> Int) {
        self.capacity = capacity
        self.hash = hash
    }

    private let hash: @Sendable (String, String) -> Int

    private func key(_ path: String, _ blobID: String) -> Int { hash(path, blobID) }

    /// Whether a parse of this blob at this path is cached (its bytes need not be read).
    public func contains(path: String, blobID: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let entry = index[key(path, blobID)] else { return false }
        return Self.matches(entry, slab: slab, path: path, blobID: blobID)
    }

    func lookup(path: String, blobID: String) -> DesiredStateLoader.ParsedFile? {
        lock.lock()
        // The buffer is not written while a load runs (see `consolidate`), so unpacking from this
        // reference outside the lock neither races nor copies it.
        let slab = self.slab
        let found = index[key(path, blobID)].flatMap { Self.matches($0, slab: slab, path: path, blobID: blobID) ? $0 : nil }
        if found == nil { misses += 1 } else { hits += 1 }
        lock.unlock()
        switch found {
        case nil: return nil
        case .decoded(let parsed, _): return parsed
        case .pending(let bytes): return bytes.withUnsafeBytes { Self.unpack($0, path: path, blobID: blobID) }
        case .packed(let offset, let count):
            return slab.withUnsafeBytes { Self.unpack(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count]), path: path, blobID: blobID) }
        }
    }

    func store(_ parsed: DesiredStateLoader.ParsedFile, path: String, blobID: String) {
        let entry = Self.pack(parsed, path: path, blobID: blobID).map(Entry.pending) ?? .decoded(parsed, blobID: blobID)
        let k = key(path, blobID)
        lock.lock()
        defer { lock.unlock() }
        // On a hash collision the file already cached keeps its place (the controller may have
        // skipped reading it); the newcomer is simply parsed each time.
        if let existing = index[k], !Self.matches(existing, slab: slab, path: path, blobID: blobID) { return }
        index[k] = entry
    }

    /// Moves entries stored since the last call into the shared buffer. Call when no lookup is in
    /// flight (the loader does, after each load). The capacity is enforced here and not while a load
    /// runs: a caller that skipped reading a blob because `contains` said it was cached must find it
    /// cached for the rest of that load.
    func consolidate() {
        lock.lock()
        defer { lock.unlock() }
        if index.count > capacity {
            index = [:]
            slab = []
            return
        }
        // Keys first: writing to the dictionary while iterating it would copy all of it.
        let pending = index.compactMap { k, entry -> (Int, [UInt8])? in
            if case .pending(let bytes) = entry { return (k, bytes) }
            return nil
        }
        for (k, bytes) in pending {
            index[k] = .packed(offset: slab.count, count: bytes.count)
            slab.append(contentsOf: bytes)
        }
    }

    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return index.count
    }

    /// Bytes held by packed entries (for benchmarks and tests).
    public var packedBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return slab.count
    }

    /// Drops every entry that is not a file of `files` (the tree just loaded), and rebuilds the
    /// shared buffer at its exact size: a controller keeps the parses of its current revision, not
    /// of every blob it has ever seen.
    public func retain(onlyFilesOf files: [SourceFile]) {
        var wanted: [Int: (path: String, blobID: String)] = [:]
        wanted.reserveCapacity(files.count)
        for f in files {
            if let blob = f.blobID { wanted[key(f.path, blob)] = (f.path, blob) }
        }
        lock.lock()
        defer { lock.unlock() }
        var kept: [(key: Int, entry: Entry)] = []
        var size = 0
        for (k, entry) in index {
            guard let file = wanted[k], Self.matches(entry, slab: slab, path: file.path, blobID: file.blobID) else { continue }
            kept.append((k, entry))
            switch entry {
            case .packed(_, let count): size += count
            case .pending(let bytes): size += bytes.count
            case .decoded: break
            }
        }
        var packed: [UInt8] = []
        packed.reserveCapacity(size)
        var rebuilt: [Int: Entry] = [:]
        rebuilt.reserveCapacity(kept.count)
        for (k, entry) in kept {
            switch entry {
            case .packed(let offset, let count):
                rebuilt[k] = .packed(offset: packed.count, count: count)
                packed.append(contentsOf: slab[offset..<offset + count])
            case .pending(let bytes):
                rebuilt[k] = .packed(offset: packed.count, count: bytes.count)
                packed.append(contentsOf: bytes)
            case .decoded:
                rebuilt[k] = entry
            }
        }
        index = rebuilt
        slab = packed
    }

    // MARK: Packed form: path, blob id, document count, profile count, then per profile its
    // position in the file, its spec_sha256 and the profile itself.

    static func pack(_ parsed: DesiredStateLoader.ParsedFile, path: String, blobID: String) -> [UInt8]? {
        guard parsed.diagnostics.isEmpty else { return nil }
        var w = PackWriter()
        w.string(path)
        w.string(blobID)
        w.int(parsed.documentCount)
        w.int(parsed.documents.count)
        for document in parsed.documents {
            guard case .profile(let located, let sha) = document,
                  located.origin.file == path, located.origin.blobID == blobID else { return nil }
            w.int(located.origin.line)
            w.int(located.origin.column)
            w.int(located.origin.documentIndex)
            w.string(sha)
            ProfilePacking.pack(located.value, into: &w)
        }
        return w.bytes
    }

    static func unpack(_ bytes: UnsafeRawBufferPointer, path: String, blobID: String) -> DesiredStateLoader.ParsedFile {
        var r = PackReader(bytes)
        _ = r.stringBytes()
        _ = r.stringBytes()
        var parsed = DesiredStateLoader.ParsedFile(path: path)
        parsed.documentCount = r.int()
        let profiles = r.int()
        parsed.documents.reserveCapacity(profiles)
        for _ in 0..<profiles {
            let origin = DocumentOrigin(file: path, line: r.int(), column: r.int(), documentIndex: r.int(), blobID: blobID)
            let sha = r.string()
            parsed.documents.append(.profile(Located(ProfilePacking.unpack(from: &r), origin: origin), sha))
        }
        return parsed
    }

    private static func matches(_ entry: Entry, slab: [UInt8], path: String, blobID: String) -> Bool {
        switch entry {
        case .decoded(let parsed, let blob): return parsed.path == path && blob == blobID
        case .pending(let bytes): return bytes.withUnsafeBytes { header($0, is: path, blobID) }
        case .packed(let offset, let count):
            return slab.withUnsafeBytes { header(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count]), is: path, blobID) }
        }
    }

    private static func header(_ bytes: UnsafeRawBufferPointer, is path: String, _ blobID: String) -> Bool {
        var r = PackReader(bytes)
        return equal(r.stringBytes(), path) && equal(r.stringBytes(), blobID)
    }

    private static func equal(_ bytes: UnsafeRawBufferPointer, _ string: String) -> Bool {
        var s = string
        return s.withUTF8 { $0.count == bytes.count && ($0.isEmpty || memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0) }
    }
}
