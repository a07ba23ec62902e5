@testable import BeamsyncModel
import Testing

/// The parse cache keeps profiles packed; a field the packing forgot would silently come back as
/// its default on the next reconcile. These samples set every field away from its default, and a
/// Mirror check fails when a new field is added without a value here (and so without a round trip).
@Suite("Packed profiles in the parse cache")
struct ProfilePackingTests {
    static var everySlurmField: SlurmRemoteDeployment {
        var s = SlurmRemoteDeployment(loginNode: "login.hpc.example.org", account: "acct-ü", homeDir: "/home/x",
                                      logDir: "/scratch/logs/with a long path that is not inline",
                                      dlgRoot: "/scratch/dlg")
        s.sshPort = 2222
        s.remoteUser = "ops"
        s.execPrefix = "srun --mpi=pmix"
        s.facility = "galaxy"
        s.jobDurationMinutes = 95
        s.numNodes = 4
        s.numIslands = 2
        s.verboseLevel = 3
        s.maxThreads = 16
        s.allNICs = true
        s.zerorun = true
        s.sleepncopy = true
        s.checkWithSession = true
        s.venv = "/opt/venv"
        s.modules = "module load py"
        s.verifySSL = false
        s.slurmTemplate = "#SBATCH --x\n$CMD"
        s.sshCredential = "slot-a"
        s.resources.partition = "work"
        s.resources.nodes = 8
        s.resources.tasks = -1
        s.resources.cpusPerTask = 64
        s.resources.memory = "200G"
        s.resources.wallTimeMinutes = Int.max
        s.resources.constraint = "amd"
        s.resources.qualityOfService = "high"
        s.managerTopology = ManagerTopology(nodes: 3, islands: Int.min, coHostDIM: true)
        s.containerRuntime = "singularity"
        s.environmentSetup = "export A=1"
        return s
    }

    static var everyRestField: RestRemoteDeployment {
        RestRemoteDeployment(dimHostForTM: "dim-internal", dimPortForTM: nil, deployHost: "dim.example.org", deployPort: 443,
                             useHTTPS: true, verifySSL: false)
    }

    static func profile(_ deployment: DeploymentTarget) -> DeploymentProfile {
        DeploymentProfile(name: "a-profile-name-longer-than-fifteen", description: "multi\nline", projectModule: "proj",
                          isDefault: true, maxConcurrentExecutions: 0,
                          translation: TranslationConfig(algo: .mysarkar, numPar: 12, numIslands: 3, tmURL: "http://tm:8084"),
                          deployment: deployment)
    }

    /// Children whose value equals the default instance's: fields the samples leave untested.
    static func unsetFields<T>(_ sample: T, _ defaults: T) -> [String] {
        zip(Mirror(reflecting: sample).children, Mirror(reflecting: defaults).children)
            .filter { String(describing: $0.0.value) == String(describing: $0.1.value) }
            .map { $0.0.label ?? "?" }
    }

    @Test("the samples set every field away from its default")
    func samplesCoverEveryField() {
        let bare = SlurmRemoteDeployment(loginNode: "", account: "", homeDir: "", logDir: "", dlgRoot: "")
        #expect(Self.unsetFields(Self.everySlurmField, bare) == [])
        #expect(Self.unsetFields(Self.everySlurmField.resources, SlurmResources()) == [])
        #expect(Self.unsetFields(Self.everySlurmField.managerTopology, ManagerTopology()) == [])
        #expect(Self.unsetFields(Self.everyRestField, RestRemoteDeployment(deployHost: "")) == [])
        let plain = DeploymentProfile(name: "", deployment: .restRemote(RestRemoteDeployment(deployHost: "")))
        #expect(Self.unsetFields(Self.profile(.restRemote(Self.everyRestField)), plain) == [])
        #expect(Self.unsetFields(Self.profile(.restRemote(Self.everyRestField)).translation, TranslationConfig()) == [])
    }

    @Test("a profile with every field set comes back equal, for both deployment kinds",
          arguments: [DeploymentTarget.slurmRemote(everySlurmField), .restRemote(everyRestField)])
    func roundTrip(_ deployment: DeploymentTarget) {
        let profile = Self.profile(deployment)
        let origin = DocumentOrigin(file: "profiles/x.yaml", line: 7, column: 3, documentIndex: 2, blobID: "b1")
        var parsed = DesiredStateLoader.ParsedFile(path: "profiles/x.yaml")
        parsed.documentCount = 3
        parsed.documents = [.profile(Located(profile, origin: origin), profile.specSHA256)]
        let bytes = try! #require(ParsedFileCache.pack(parsed, path: "profiles/x.yaml", blobID: "b1"))
        let back = bytes.withUnsafeBytes { ParsedFileCache.unpack($0, path: "profiles/x.yaml", blobID: "b1") }
        #expect(back.documentCount == 3)
        guard case .profile(let located, let sha) = back.documents.first else { Issue.record("no profile"); return }
        #expect(located == Located(profile, origin: origin))
        #expect(sha == profile.specSHA256)
        #expect(bytes.count < 512, "packed size \(bytes.count)")
    }

    @Test("files with findings or other kinds of document are kept as they are, not packed")
    func onlyCleanProfileFilesArePacked() {
        var withFinding = DesiredStateLoader.ParsedFile(path: "profiles/x.yaml")
        withFinding.diagnostics = [Diagnostic(.warning, code: .emptyDocument, location: SourceLocation(file: "profiles/x.yaml", line: 1, column: 1),
                                              path: "", message: "m", hint: "h")]
        #expect(ParsedFileCache.pack(withFinding, path: "profiles/x.yaml", blobID: "b") == nil)
        var policy = DesiredStateLoader.ParsedFile(path: ".beamsync.yaml")
        policy.documents = [.policy(RepositoryPolicy())]
        #expect(ParsedFileCache.pack(policy, path: ".beamsync.yaml", blobID: "b") == nil)
    }
}
