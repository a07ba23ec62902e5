import ArgumentParser
import BeamsyncGit
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPostgres
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

    /// The repository at `--ref`; nil with --dir.
    func gitSource() throws -> GitSource? {
        guard let repo else { return nil }
        let home = EmbeddedPostgres.defaultHome(environment: ProcessInfo.processInfo.environment)
        return GitSource(url: GitSource.url(forRepository: repo), ref: ref, path: path, cacheDirectory: home + "/cache",
                         options: try access.remoteOptions())
    }

    /// What plan and apply read.
    func input() throws -> DesiredInput {
        if let git = try gitSource() { return .git(git) }
        return .directory(dir)
    }
}

/// Prints diagnostics to stderr the way `validate` does.
func reportLoadFailure(_ diagnostics: [Diagnostic]) {
    let report = ValidationReport(files: Array(Set(diagnostics.compactMap { $0.location?.file })).sorted(), documents: 0, diagnostics: diagnostics)
    StandardError.write(report.text(style: TerminalStyle.detect(fileDescriptor: STDERR_FILENO)))
}
