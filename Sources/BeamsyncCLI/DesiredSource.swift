import ArgumentParser
import BeamsyncController
import BeamsyncGit
import BeamsyncModel
import BeamsyncStore
import Foundation

/// Credentials and TLS settings for reaching a git remote (secrets come from files).
struct GitAccessOptions: ParsableArguments {
    @Option(help: "SSH private key file for ssh:// repositories (ed25519 or ECDSA).")
    var sshKeyFile: String?
    @Option(help: "File holding the SSH key's passphrase.")
    var sshPassphraseFile: String?
    @Option(help: "known_hosts file the server's host key must match ([host]:port entries for non-22 ports).")
    var knownHostsFile: String?
    @Option(help: "File holding an https access token.")
    var tokenFile: String?
    @Option(help: "CA bundle for https repositories.")
    var caFile: String?
    @Flag(help: "Do not verify the https server's certificate (never in production).")
    var insecureSkipTLSVerify = false

    func remoteOptions() throws -> GitRemoteOptions {
        if let key = sshKeyFile {
            guard let knownHostsFile else {
                throw ValidationError("--ssh-key-file needs --known-hosts-file: the server's host key must be checked")
            }
            return .ssh(privateKeyFile: key, passphraseFile: sshPassphraseFile, knownHostsFile: knownHostsFile)
        }
        if tokenFile != nil || caFile != nil || insecureSkipTLSVerify {
            return .https(tokenFile: tokenFile, caFile: caFile, insecureSkipTLSVerify: insecureSkipTLSVerify)
        }
        return .none
    }
}

/// Where the desired state comes from: a working directory (default) or a git repository at a ref.
struct SourceOptions: ParsableArguments {
    @Option(help: "Repository directory to read (uncommitted edits included).")
    var dir: String = "."
    @Option(help: "Read a git repository instead of --dir: a URL (file://, ssh://, https://) or a local path.")
    var repo: String?
    @Option(help: "With --repo: the branch, tag or commit to read.")
    var ref: String = "main"
    @Option(help: "With --repo: the subdirectory holding profiles/, projects/, executions/.")
    var path: String = ""
    @OptionGroup var access: GitAccessOptions

    /// A loaded revision: its files and how to name it.
    struct Loaded: Sendable {
        var files: [SourceFile]
        var diagnostics: [Diagnostic]
        var name: String
        var revision: String?
    }

    var repositoryURL: String? {
        guard let repo else { return nil }
        if repo.contains("://") || repo.contains("@") { return repo }
        return "file://" + URL(fileURLWithPath: repo).standardizedFileURL.path
    }

    func gitSource(ref: String) throws -> GitDesiredSource {
        let home = EmbeddedPostgres.defaultHome(environment: ProcessInfo.processInfo.environment)
        return GitDesiredSource(url: repositoryURL!, branch: ref, path: path, cacheDirectory: home + "/cache", options: try access.remoteOptions())
    }

    /// Reads the files of the working directory, or of the repository at `ref`.
    func read(ref overrideRef: String? = nil) async throws -> Loaded {
        if repo != nil {
            let source = try gitSource(ref: overrideRef ?? ref)
            let revision = try await source.latestRevision()
            let snapshot = try await source.snapshot(at: revision)
            return Loaded(files: snapshot.files, diagnostics: [], name: "\(RemoteURLText.redacted(repositoryURL!))@\(overrideRef ?? ref) (\(revision.prefix(12)))",
                          revision: revision)
        }
        let tree = DirectoryTree.read(root: dir)
        let prefix = dir == "." ? "" : (dir.hasSuffix("/") ? dir : dir + "/")
        return Loaded(files: tree.files, diagnostics: tree.diagnostics.map { $0.prefixingFiles(with: prefix) }, name: dir, revision: nil)
    }

    /// Read and parsed, file by file: what can be done before the live state is known.
    struct Parsed: Sendable {
        var loaded: Loaded
        var tree: ParsedTree
    }

    /// Reads the source and parses every file. Callers overlap this with reading the live state.
    func parse(ref overrideRef: String? = nil) async throws -> Parsed {
        let loaded = try await read(ref: overrideRef)
        return Parsed(loaded: loaded, tree: DesiredStateLoader.parse(files: loaded.files))
    }

    /// The cross-document checks against a live state (cheap; used inside the apply transaction).
    func check(_ parsed: Parsed, externalProfiles: [ExternalProfile]) -> (DesiredState?, [Diagnostic]) {
        let result = parsed.tree.assemble(externalProfiles: externalProfiles)
        let prefix = repo == nil && dir != "." ? (dir.hasSuffix("/") ? dir : dir + "/") : ""
        let diagnostics = parsed.loaded.diagnostics + result.diagnostics.map { $0.prefixingFiles(with: prefix) }
        return (diagnostics.hasErrors ? nil : result.state, diagnostics)
    }

    /// Loads and checks the desired state; profiles already in the database satisfy references.
    func load(externalProfiles: [ExternalProfile], ref overrideRef: String? = nil) async throws -> (DesiredState?, [Diagnostic], source: String, revision: String?) {
        let parsed = try await parse(ref: overrideRef)
        let (state, diagnostics) = check(parsed, externalProfiles: externalProfiles)
        return (state, diagnostics, parsed.loaded.name, parsed.loaded.revision)
    }
}

/// Prints diagnostics to stderr the way `validate` does.
func reportLoadFailure(_ diagnostics: [Diagnostic]) {
    let report = ValidationReport(files: Array(Set(diagnostics.compactMap { $0.location?.file })).sorted(), documents: 0, diagnostics: diagnostics)
    StandardError.write(report.text(style: TerminalStyle.detect(fileDescriptor: STDERR_FILENO)))
}
