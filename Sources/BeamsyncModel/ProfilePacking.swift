/// A compact byte form of a decoded profile, for the controller's parse cache.
///
/// A decoded `DeploymentProfile` is a tree of Swift values with a dozen heap strings; 10,000 of
/// them kept between reconciles cost ~2 KB each and scatter across the heap. Packed one after the
/// other in a single buffer they take a few hundred bytes each and unpack in about a microsecond,
/// much less than parsing the YAML again. Every stored property is written, in declaration order;
/// `ProfilePackingTests` round-trips a profile with every field set away from its default.
enum ProfilePacking {
    static func pack(_ profile: DeploymentProfile, into w: inout PackWriter) {
        w.string(profile.name)
        w.string(profile.description)
        w.string(profile.projectModule)
        w.bool(profile.isDefault)
        w.int(profile.maxConcurrentExecutions)
        let t = profile.translation
        w.byte(t.algo == .metis ? 0 : 1)
        w.int(t.numPar)
        w.int(t.numIslands)
        w.string(t.tmURL)
        switch profile.deployment {
        case .restRemote(let r):
            w.byte(0)
            w.string(r.dimHostForTM)
            w.int(r.dimPortForTM)
            w.string(r.deployHost)
            w.int(r.deployPort)
            w.bool(r.useHTTPS)
            w.bool(r.verifySSL)
        case .slurmRemote(let s):
            w.byte(1)
            w.string(s.loginNode)
            w.int(s.sshPort)
            w.string(s.remoteUser)
            w.string(s.account)
            w.string(s.homeDir)
            w.string(s.logDir)
            w.string(s.dlgRoot)
            w.string(s.execPrefix)
            w.string(s.facility)
            w.int(s.jobDurationMinutes)
            w.int(s.numNodes)
            w.int(s.numIslands)
            w.int(s.verboseLevel)
            w.int(s.maxThreads)
            w.bool(s.allNICs)
            w.bool(s.zerorun)
            w.bool(s.sleepncopy)
            w.bool(s.checkWithSession)
            w.string(s.venv)
            w.string(s.modules)
            w.bool(s.verifySSL)
            w.string(s.slurmTemplate)
            w.string(s.sshCredential)
            let r = s.resources
            w.string(r.partition)
            w.int(r.nodes)
            w.int(r.tasks)
            w.int(r.cpusPerTask)
            w.string(r.memory)
            w.int(r.wallTimeMinutes)
            w.string(r.constraint)
            w.string(r.qualityOfService)
            w.int(s.managerTopology.nodes)
            w.int(s.managerTopology.islands)
            w.bool(s.managerTopology.coHostDIM)
            w.string(s.containerRuntime)
            w.string(s.environmentSetup)
        }
    }

    static func unpack(from r: inout PackReader) -> DeploymentProfile {
        let name = r.string()
        let description = r.optionalString()
        let projectModule = r.optionalString()
        let isDefault = r.bool()
        let maxConcurrent = r.optionalInt()
        var translation = TranslationConfig()
        translation.algo = r.byte() == 0 ? .metis : .mysarkar
        translation.numPar = r.int()
        translation.numIslands = r.int()
        translation.tmURL = r.optionalString()
        let deployment: DeploymentTarget
        if r.byte() == 0 {
            let dimHost = r.optionalString()
            let dimPort = r.optionalInt()
            let host = r.string()
            let port = r.optionalInt()
            deployment = .restRemote(RestRemoteDeployment(dimHostForTM: dimHost, dimPortForTM: dimPort, deployHost: host,
                                                          deployPort: port, useHTTPS: r.bool(), verifySSL: r.bool()))
        } else {
            let loginNode = r.string()
            let sshPort = r.int()
            let remoteUser = r.optionalString()
            var s = SlurmRemoteDeployment(loginNode: loginNode, account: r.string(), homeDir: r.string(), logDir: r.string(),
                                          dlgRoot: r.string())
            s.sshPort = sshPort
            s.remoteUser = remoteUser
            s.execPrefix = r.string()
            s.facility = r.string()
            s.jobDurationMinutes = r.int()
            s.numNodes = r.int()
            s.numIslands = r.int()
            s.verboseLevel = r.int()
            s.maxThreads = r.int()
            s.allNICs = r.bool()
            s.zerorun = r.bool()
            s.sleepncopy = r.bool()
            s.checkWithSession = r.bool()
            s.venv = r.optionalString()
            s.modules = r.optionalString()
            s.verifySSL = r.optionalBool()
            s.slurmTemplate = r.optionalString()
            s.sshCredential = r.optionalString()
            s.resources.partition = r.optionalString()
            s.resources.nodes = r.optionalInt()
            s.resources.tasks = r.optionalInt()
            s.resources.cpusPerTask = r.optionalInt()
            s.resources.memory = r.optionalString()
            s.resources.wallTimeMinutes = r.optionalInt()
            s.resources.constraint = r.optionalString()
            s.resources.qualityOfService = r.optionalString()
            s.managerTopology.nodes = r.optionalInt()
            s.managerTopology.islands = r.optionalInt()
            s.managerTopology.coHostDIM = r.bool()
            s.containerRuntime = r.optionalString()
            s.environmentSetup = r.optionalString()
            deployment = .slurmRemote(s)
        }
        return DeploymentProfile(name: name, description: description, projectModule: projectModule, isDefault: isDefault,
                                 maxConcurrentExecutions: maxConcurrent, translation: translation, deployment: deployment)
    }
}

/// Appends values to a byte buffer: integers as zigzag LEB128, strings length-prefixed, optionals
/// behind a presence byte.
struct PackWriter {
    var bytes: [UInt8] = []

    mutating func byte(_ b: UInt8) { bytes.append(b) }
    mutating func bool(_ b: Bool) { bytes.append(b ? 1 : 0) }

    mutating func int(_ n: Int) {
        var v = UInt64(bitPattern: Int64(n) << 1 ^ Int64(n) >> 63)
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            int(utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func int(_ n: Int?) {
        guard let n else { return byte(0) }
        byte(1)
        int(n)
    }

    mutating func string(_ s: String?) {
        guard let s else { return byte(0) }
        byte(1)
        string(s)
    }

    mutating func bool(_ b: Bool?) { byte(b.map { $0 ? 2 : 1 } ?? 0) }
}

/// Reads what `PackWriter` wrote, in the same order. The bytes come from this process's own cache,
/// so a short or malformed buffer is a programming error and traps.
struct PackReader {
    let bytes: UnsafeRawBufferPointer
    var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    mutating func byte() -> UInt8 {
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func bool() -> Bool { byte() != 0 }

    mutating func int() -> Int {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = byte()
            v |= UInt64(b & 0x7f) << shift
            if b < 0x80 { break }
            shift += 7
        }
        return Int(Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1))
    }

    mutating func string() -> String {
        let count = int()
        defer { offset += count }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]), as: UTF8.self)
    }

    /// The raw bytes of a string, without making one.
    mutating func stringBytes() -> UnsafeRawBufferPointer {
        let count = int()
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    mutating func optionalInt() -> Int? { byte() == 0 ? nil : int() }
    mutating func optionalString() -> String? { byte() == 0 ? nil : string() }

    mutating func optionalBool() -> Bool? {
        switch byte() {
        case 0: nil
        case 2: true
        default: false
        }
    }
}
