import Foundation
import Testing
@testable import BeamsyncGit

/// Setting a verifier up: tools, key files, the private workspace.
@Suite("commit verification set-up", .enabled(if: signingToolsEnabled, "needs ssh-keygen and gpg (scripts/test.sh installs them)"))
struct VerificationSetupTests {
    @Test("a missing tool is an error naming the tool, the Debian package and where it was looked for")
    func missingTool() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.sshKey("alice")
            let allowed = try lab.allowedSigners(["alice@example.org \(alice.publicKeyText)"])
            let pgp = try await lab.gpgKey(name: "Alice", email: "alice@example.org")
            let keyring = try await lab.exportKeyring([pgp], armored: false, named: "k.gpg")
            let empty = lab.scratch.sub("no-tools")
            try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
            var options = CommitSignatureVerifier.Options()
            options.toolSearchPath = [empty]

            let ssh = try #require(await thrownError { try makeVerifier(ssh: allowed, options: options) })
            #expect(ssh as? CommitVerificationError == .toolMissing(tool: "ssh-keygen", package: "openssh-client",
                                                                    purpose: "verifying SSH-signed commits", searched: [empty]))
            #expect("\(ssh)" == "verifying SSH-signed commits needs ssh-keygen, which was not found (searched \(empty)): "
                + "install Debian's openssh-client package")
            let gpgv = try #require(await thrownError { try makeVerifier(openPGP: keyring, options: options) })
            #expect("\(gpgv)".contains("needs gpgv") && "\(gpgv)".contains("Debian's gpgv package"))
        }
    }

    @Test("unusable key files are refused before anything runs, naming the file and how to fix it")
    func badKeyFiles() async throws {
        try await withSigningLab { lab in
            let pgp = try await lab.gpgKey(name: "Alice", email: "alice@example.org")
            func problem(ssh: String? = nil, openPGP: String? = nil) async -> String {
                (await thrownError { try makeVerifier(ssh: ssh, openPGP: openPGP) }).map { "\($0)" } ?? ""
            }
            let missing = lab.scratch.sub("keys/nope")
            #expect(await problem(ssh: missing) == "cannot read \(missing) (operator configuration): the file does not exist")
            let comments = try lab.allowedSigners(["# nobody yet", ""], named: "empty")
            #expect(await problem(ssh: comments).contains("has no entries; add one line per signer"))
            #expect(await problem(ssh: lab.scratch.sub("keys")).contains("it is a directory"))

            let secret = lab.scratch.sub("keys/secret.asc")
            try await lab.gpg(["--pinentry-mode", "loopback", "--passphrase", "", "--armor", "--output", secret,
                               "--export-secret-keys", pgp.fingerprint])
            let secretProblem = await problem(openPGP: secret)
            #expect(secretProblem.contains("holds a secret key") && !secretProblem.contains("BEGIN PGP"))
            let garbage = try lab.scratch.write("keys/garbage", "not a keyring\n")
            #expect(await problem(openPGP: garbage).contains("is neither an OpenPGP keyring nor an armored public key block"))
            #expect(await problem(openPGP: garbage).contains("gpg --export KEYID"))

            // One changed character in the armored body breaks the CRC-24 checksum.
            let armored = try await lab.exportKeyring([pgp], armored: true, named: "team.asc")
            var lines = try String(contentsOfFile: armored, encoding: .utf8).components(separatedBy: "\n")
            let body = try #require(lines.firstIndex { $0.count == 64 })
            var chars = Array(lines[body])
            chars[10] = chars[10] == "Q" ? "R" : "Q"
            lines[body] = String(chars)
            let damaged = try lab.scratch.write("keys/damaged.asc", lines.joined(separator: "\n"))
            #expect(await problem(openPGP: damaged).contains("fails its checksum"))
        }
    }

    @Test("the private HOME/GNUPGHOME holds snapshots of the key files and disappears with the verifier")
    func workspaceLifecycle() async throws {
        try await withSigningLab { lab in
            let alice = try await lab.sshKey("alice")
            let allowed = try lab.allowedSigners(["alice@example.org \(alice.publicKeyText)"])
            let commit = try await lab.commit("signed", .ssh(alice))
            let mirror = try await lab.mirror()
            var verifier: CommitSignatureVerifier? = try makeVerifier(ssh: allowed)
            let workspace = try #require(verifier?.workspacePath)
            #expect(try FileManager.default.attributesOfItem(atPath: workspace)[.posixPermissions] as? Int == 0o700)

            // The snapshot is what counts: emptying the operator's file later changes nothing.
            try Data().write(to: URL(fileURLWithPath: allowed))
            #expect(await verifier!.verify(try mirror.signature(of: commit), commit: commit).isVerified)
            #expect(try FileManager.default.contentsOfDirectory(atPath: workspace).sorted() == ["allowed_signers", "gnupg"])
            verifier = nil
            #expect(!FileManager.default.fileExists(atPath: workspace))
        }
    }
}

@Suite("running verification tools")
struct ToolProcessTests {
    private func tool(_ executable: String, _ arguments: [String], stdin: String? = nil, timeout: Duration = .seconds(5),
                      limit: Int = 1 << 16) -> ToolProcess {
        ToolProcess(executable: executable, arguments: arguments, environment: ["PATH": "/usr/bin:/bin", "ONLY": "this"],
                    stdinFile: stdin, timeout: timeout, outputLimit: limit)
    }

    @Test("a tool sees exactly the environment given, its arguments verbatim (no shell) and stdin from a file")
    func cleanRun() async throws {
        let env = try await tool("/usr/bin/env", []).run()
        #expect(env.succeeded && env.stdoutText == "ONLY=this\nPATH=/usr/bin:/bin\n")
        let echo = try await tool("/bin/echo", ["$HOME", "; rm -rf /", "`id`"]).run()
        #expect(echo.stdoutText == "$HOME ; rm -rf / `id`\n")
        let scratch = try Scratch()
        defer { scratch.remove() }
        let input = try scratch.write("in", "payload bytes")
        #expect(try await tool("/bin/cat", [], stdin: input).run().stdoutText == "payload bytes")
        let failing = try await tool("/bin/sh", ["-c", "echo oops >&2; exit 3"]).run()
        #expect(failing.termination == .exited(3) && failing.stderrText == "oops\n")
    }

    @Test("a tool that outlives its deadline is killed, and output beyond the bound is dropped")
    func bounds() async throws {
        let start = ContinuousClock.now
        let slow = await thrownError { try await tool("/bin/sleep", ["10"], timeout: .milliseconds(300)).run() }
        #expect(slow as? ToolProcess.Failure == .timedOut)
        #expect(ContinuousClock.now - start < .seconds(5))
        let chatty = try await tool("/usr/bin/head", ["-c", "1000000", "/dev/zero"], limit: 1000).run()
        #expect(chatty.succeeded && chatty.stdout.count == 1000)
        let missing = await thrownError { try await tool("/nonexistent/tool", []).run() }
        #expect(missing as? ToolProcess.Failure == .cannotStart(errno: ENOENT))
    }
}

@Suite("gpgv status lines and ASCII armor")
struct OpenPGPParsingTests {
    @Test("status lines: GOODSIG with VALIDSIG verifies; the worst of BADSIG, REVKEYSIG, EXPKEYSIG, NO_PUBKEY wins")
    func status() {
        let good = GPGStatus("""
            [GNUPG:] NEWSIG
            [GNUPG:] GOODSIG E7A911A58F05A3A1 Alice %25 Signer <alice@example.org>
            [GNUPG:] VALIDSIG 1111111111111111111111111111111111111111 2026-12-06 1796566909 0 4 0 22 8 00 5064C6B7250EEF5D0A7B8743E7A911A58F05A3A1
            """)
        #expect(good.failure == nil && good.good && good.valid)
        #expect(good.userID == "Alice % Signer <alice@example.org>")
        #expect(GPGStatus("[GNUPG:] GOODSIG AB Eve%0A[GNUPG:] GOODSIG").userID == "Eve\u{FFFD}[GNUPG:] GOODSIG")
        #expect(good.primaryFingerprint == "5064C6B7250EEF5D0A7B8743E7A911A58F05A3A1")
        #expect(GPGStatus("[GNUPG:] REVKEYSIG AB Rev\n[GNUPG:] VALIDSIG F 1 2 3 4 5 6 7 8 P").failure == .revoked)
        #expect(GPGStatus("[GNUPG:] EXPKEYSIG AB Old\n[GNUPG:] VALIDSIG F").failure == .expired)
        #expect(GPGStatus("[GNUPG:] EXPSIG AB Old").failure == .expired)
        let missing = GPGStatus("[GNUPG:] ERRSIG E7A911A58F05A3A1 22 8 00 1796566909 9 5064C6B7250EEF5D0A7B8743E7A911A58F05A3A1\n"
            + "[GNUPG:] NO_PUBKEY E7A911A58F05A3A1")
        #expect(missing.failure == .unknownKey && missing.errorFingerprint == "5064C6B7250EEF5D0A7B8743E7A911A58F05A3A1")
        #expect(GPGStatus("[GNUPG:] ERRSIG AB 99 8 00 1 4 -").failure == .verifierFailed)
        #expect(GPGStatus("[GNUPG:] BADSIG AB x\n[GNUPG:] REVKEYSIG AB x").failure == .badSignature)
        #expect(GPGStatus("gpgv: not a status line").failure == nil && !GPGStatus("").good)
    }

    @Test("armor: CRC-24 as RFC 4880 defines it, and blocks decoded whatever their headers")
    func armor() throws {
        #expect(OpenPGPArmor.crc24(Data()) == 0xB704CE)
        // The CRC-24 of the nine bytes "123456789" is 0x21CF02 (the standard check value).
        #expect(OpenPGPArmor.crc24(Data("123456789".utf8)) == 0x21CF02)
        let packet = Data([0x98, 0x01, 0x04])  // an old-format public-key packet header and one byte
        let crc = OpenPGPArmor.crc24(packet)
        let checksum = Data([UInt8(crc >> 16 & 0xff), UInt8(crc >> 8 & 0xff), UInt8(crc & 0xff)]).base64EncodedString()
        let text = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: team keys\n\n\(packet.base64EncodedString())\n=\(checksum)\n"
            + "-----END PGP PUBLIC KEY BLOCK-----\n"
        #expect(try OpenPGPArmor.dearmorPublicKeys(Data((text + text).utf8)) == packet + packet)
        #expect(OpenPGPArmor.binaryKind(packet) == .publicKeys)
        #expect(OpenPGPArmor.binaryKind(Data([0x95, 0x01])) == .secretKey)
        #expect(throws: OpenPGPArmor.Problem.secretKey) {
            try OpenPGPArmor.dearmorPublicKeys(Data("-----BEGIN PGP PRIVATE KEY BLOCK-----\n".utf8))
        }
    }
}
