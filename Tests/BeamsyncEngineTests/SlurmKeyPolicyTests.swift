@testable import BeamsyncEngine
import BeamsyncModel
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// Key files for the policy cases, made with ssh-keygen in a scratch directory.
private struct KeyScratch {
    let dir: String
    init() throws {
        dir = NSTemporaryDirectory() + "beamsync-slurm-keys-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try keygen(["-t", "ed25519", "-N", "", "-f", dir + "/key"])
        try keygen(["-t", "ed25519", "-N", "secret phrase", "-f", dir + "/locked"])
        let hostKey = try String(contentsOfFile: dir + "/key.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        try write("known_hosts", "[127.0.0.1]:22122 \(hostKey)\n")
        try write("known_hosts_other", "[login.example.org]:22 \(hostKey)\n")
        try write("known_hosts_empty", "")
        try write("known_hosts_hashed", "|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= \(hostKey)\n[127.0.0.1]:22122 \(hostKey)\n")
        try write("known_hosts_marker", "[127.0.0.1]:22122 \(hostKey)\n@cert-authority *.example.org \(hostKey)\n")
        try write("loose_key", try String(contentsOfFile: dir + "/key", encoding: .utf8), mode: 0o644)
        try write("passphrase_loose", "secret phrase\n", mode: 0o644)
        try write("public_key", try String(contentsOfFile: dir + "/key.pub", encoding: .utf8))
        try FileManager.default.createSymbolicLink(atPath: dir + "/key_link", withDestinationPath: dir + "/key")
        try write("foreign_key", try String(contentsOfFile: dir + "/key", encoding: .utf8))
    }

    func path(_ name: String) -> String { dir + "/" + name }

    func write(_ name: String, _ text: String, mode: Int = 0o600) throws {
        try text.write(toFile: path(name), atomically: false, encoding: .utf8)
        chmod(path(name), mode_t(mode))
    }

    func keygen(_ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        p.arguments = ["-q", "-C", "beamsync-test"] + arguments
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "ssh-keygen \(arguments)")
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

@Suite("slurm_remote and the production SSH key policy", .serialized, .requires(.postgres))
struct SlurmKeyPolicyTests {
    @Test("every production key-policy rejection fails the execution before anything is contacted, with the finding's exact message and fix")
    func rejections() async throws {
        let keys = try KeyScratch()
        defer { keys.remove() }
        let root = geteuid() == 0
        if root { chown(keys.path("foreign_key"), 65534, 65534) }
        let base = ["BEAMPIPE_ENV": "production", "BEAMPIPE_USE_REAL_BACKENDS": "true",
                    "SLURM_SSH_PRIVATE_KEY_FILE": keys.path("key"), "SLURM_SSH_KNOWN_HOSTS_SOURCE": keys.path("known_hosts")]
        let keyFile = "SLURM_SSH_PRIVATE_KEY_FILE"
        let known = "SLURM_SSH_KNOWN_HOSTS_SOURCE"
        let scan = "`ssh-keyscan -p 22122 127.0.0.1`"
        // (what changes, the finding's message, its fix)
        var cases: [([String: String?], String, String)] = [
            ([keyFile: keys.path("loose_key")],
             "\(keyFile) (\(keys.path("loose_key"))): the private key file is readable or writable by group or others (mode 0644)",
             "chmod 600 \(keys.path("loose_key"))"),
            ([keyFile: keys.path("key_link")],
             "\(keyFile) (\(keys.path("key_link"))): the private key path is a symbolic link to \(keys.path("key")), which production refuses because a link can be redirected",
             "use the file's real path (\(keys.path("key"))) instead of the link"),
            ([keyFile: keys.path("missing")], "\(keyFile) (\(keys.path("missing"))): the private key file does not exist",
             "set \(keyFile) to the path of an existing private key file"),
            ([keyFile: keys.path("public_key")], "\(keyFile) (\(keys.path("public_key"))): this is not a PEM or OpenSSH private key",
             "use the private key itself (not the .pub file or a certificate)"),
            ([keyFile: keys.path("locked")],
             "\(keyFile) (\(keys.path("locked"))): the private key is protected by a passphrase but no passphrase is configured",
             "set SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE to a file holding the passphrase"),
            (["SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE": keys.path("passphrase_loose")],
             "SLURM_SSH_PRIVATE_KEY_PASSPHRASE_FILE (\(keys.path("passphrase_loose"))): the passphrase file is readable or writable by group or others (mode 0644)",
             "chmod 600 \(keys.path("passphrase_loose"))"),
            ([keyFile: nil], "\(keyFile): no SSH private key is configured (SLURM_SSH_PRIVATE_KEY, SLURM_SSH_PRIVATE_KEY_PATH and \(keyFile) are unset)",
             "set \(keyFile) to the key file"),
            ([keyFile: nil, "SLURM_SSH_PRIVATE_KEY": try String(contentsOfFile: keys.path("key"), encoding: .utf8)],
             "SLURM_SSH_PRIVATE_KEY: inline secrets are refused in production",
             "put the secret in a file (mode 0600) and set \(keyFile) instead; BEAMPIPE_ALLOW_INLINE_SECRETS=true allows it as a break-glass"),
            (["BEAMPIPE_SLURM_SSH_ALLOW_HOME_FALLBACK": "true"],
             "BEAMPIPE_SLURM_SSH_ALLOW_HOME_FALLBACK: the home-directory key fallback is forbidden in production",
             "unset BEAMPIPE_SLURM_SSH_ALLOW_HOME_FALLBACK and set \(keyFile)"),
            (["BEAMPIPE_SLURM_SSH_STRICT_KNOWN_HOSTS": "false"],
             "BEAMPIPE_SLURM_SSH_STRICT_KNOWN_HOSTS: host-key checking cannot be turned off in production",
             "set BEAMPIPE_SLURM_SSH_STRICT_KNOWN_HOSTS=true (BEAMPIPE_ALLOW_INSECURE_SSH_HOST_KEYS=true overrides this as a break-glass)"),
            ([known: nil], "\(known): no known_hosts file is configured, so the host key of 127.0.0.1:22122 cannot be checked",
             "set \(known) to a file with a plain entry for [127.0.0.1]:22122 (\(scan), after checking the fingerprint with the cluster's administrators)"),
            ([known: keys.path("nowhere")], "\(known) (\(keys.path("nowhere"))): the known_hosts file does not exist",
             "create it with a plain entry for [127.0.0.1]:22122 (\(scan), after checking the fingerprint)"),
            ([known: keys.path("known_hosts_empty")], "\(known) (\(keys.path("known_hosts_empty"))): the known_hosts file has no host keys",
             "add a plain entry for [127.0.0.1]:22122 (\(scan), after checking the fingerprint)"),
            ([known: keys.path("known_hosts_hashed")], "\(known) (\(keys.path("known_hosts_hashed"))): hashed entries (|1|…) are not accepted (line 1)",
             "write plain entries (ssh-keyscan without -H) so the trusted hosts can be reviewed"),
            ([known: keys.path("known_hosts_marker")],
             "\(known) (\(keys.path("known_hosts_marker"))): @cert-authority and @revoked markers are not supported (line 2)",
             "remove the marked lines and list the login nodes' host keys themselves"),
            ([known: keys.path("known_hosts_other")],
             "\(known) (\(keys.path("known_hosts_other"))): no plain entry matches [127.0.0.1]:22122 (login_node 127.0.0.1, ssh_port 22122)",
             "add one (\(scan), after checking the fingerprint with the cluster's administrators)"),
        ]
        if root {
            cases.append(([keyFile: keys.path("foreign_key")],
                          "\(keyFile) (\(keys.path("foreign_key"))): the private key file belongs to uid 65534, not to this process's uid 0 or root",
                          "chown 0 \(keys.path("foreign_key"))"))
        }
        try await RunnerHarness.with { h in
            let deployment = """
                {"kind": "slurm_remote", "login_node": "127.0.0.1", "ssh_port": 22122, "remote_user": "hpcuser", "account": "a",
                 "home_dir": "/home/hpcuser", "log_dir": "/home/hpcuser/log", "dlg_root": "/home/hpcuser/dlg"}
                """
            try await h.insertProfile("slurm", isDefault: true, translation: try JSONValue.parse("{\"tm_url\": \"http://127.0.0.1:9\"}"),
                                      deployment: try JSONValue.parse(deployment))
            for (index, (changes, message, fix)) in cases.enumerated() {
                var environment = base
                for (name, value) in changes { environment[name] = value }
                let e = try await h.create("HelloWorld", name: "policy-\(index)")
                var configuration = testRunnerConfiguration()
                configuration.environment = environment
                let runner = h.runner(configuration)
                let done = try await h.drive(runner, e.id, timeout: .seconds(30))
                await runner.close()
                #expect(done.status == .failed && done.backend == .slurmRemote && done.slurmJobID == nil)
                #expect(done.lastError == "deployment profile 'slurm': ssh 127.0.0.1:22122: the SSH credentials are not usable: \(message) (fix: \(fix)); "
                        + "nothing was submitted", "case \(index)")
                #expect(try await h.steps(e.id) == ["created", "failed"], "nothing was contacted (case \(index))")
            }
        }
    }
}
