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
        // Production refuses secret files that others can read, and links (beampipe's rule for SSH keys).
        for (file, flag) in [(sshKeyFile, "--ssh-key-file"), (sshPassphraseFile, "--ssh-passphrase-file"), (tokenFile, "--token-file")] {
            if let file { try CredentialFileCheck.check(file, what: flag) }
        }
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

extension CommitVerificationMode: ExpressibleByArgument {}

/// Which commits must be signed, and by whom (`--verify-commits`, `--allowed-signers`, `--openpgp-keyring`).
struct CommitVerificationOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Require signed commits: head (the commit applied) or all (every commit since the last applied one); "
                               + "beamsync.yaml can only ask for more.", valueName: "none|head|all"))
    var verifyCommits: CommitVerificationMode?
    @Option(help: ArgumentHelp("OpenSSH allowed_signers file of the SSH keys whose commit signatures are trusted.", valueName: "file"))
    var allowedSigners: String?
    @Option(help: ArgumentHelp("OpenPGP keyring (binary or armored) of the keys whose commit signatures are trusted.", valueName: "file"))
    var openpgpKeyring: String?

    var settings: OperatorVerificationSettings {
        OperatorVerificationSettings(mode: verifyCommits, trust: CommitTrust(sshAllowedSigners: allowedSigners, openPGPKeyring: openpgpKeyring))
    }

    var isSet: Bool { verifyCommits != nil || allowedSigners != nil || openpgpKeyring != nil }
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
    @OptionGroup var verification: CommitVerificationOptions

    func validate() throws {
        if repo == nil && verification.isSet {
            throw ValidationError("--verify-commits, --allowed-signers and --openpgp-keyring need --repo: commits are verified in a git source")
        }
    }

    /// The repository at `--ref`; nil with --dir.
    func gitSource() throws -> GitSource? {
        guard let repo else { return nil }
        let home = EmbeddedPostgres.defaultHome(environment: ProcessInfo.processInfo.environment)
        return GitSource(url: GitSource.url(forRepository: repo), ref: ref, path: path, cacheDirectory: home + "/cache",
                         options: try access.remoteOptions(), verification: verification.settings)
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
    StandardError.write(SecretRedaction.redact(report.text(style: TerminalStyle.detect(fileDescriptor: STDERR_FILENO))))
}
