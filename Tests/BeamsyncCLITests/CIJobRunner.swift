import BeamsyncModel
import Foundation
import Testing

/// Runs the shell of the CI examples (examples/ci/) on this machine the way their runners would:
/// each step's script with `bash -eo pipefail`, a clean environment (the job's variables, PATH and
/// HOME only), in the checkout. `beamsync` on PATH is the binary the tests built; `gh` is a
/// recorder that stands in for GitHub and writes what it was asked to post into a directory.
struct CIJobRunner {
    struct StepResult {
        var name: String
        var status: Int32
        var output: String
    }

    let checkout: URL
    let bin: URL
    let home: URL
    let ghRecords: URL

    init(checkout: URL) throws {
        self.checkout = checkout
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-ci-\(UUID().uuidString)")
        bin = base.appendingPathComponent("bin")
        home = base.appendingPathComponent("home")
        ghRecords = base.appendingPathComponent("gh")
        for dir in [bin, home, ghRecords] { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        try FileManager.default.createSymbolicLink(at: bin.appendingPathComponent("beamsync"),
                                                   withDestinationURL: repositoryRoot.appendingPathComponent(".build/debug/beamsync"))
        // `gh api .../comments --jq ...` lists the ids in existing-comment-ids; `gh api -X DELETE`
        // and `gh pr comment --body-file F` are recorded (the body as comment-N.md).
        let gh = bin.appendingPathComponent("gh")
        try """
            #!/bin/bash
            set -euo pipefail
            records='\(ghRecords.path)'
            printf 'token=%s %s\\n' "${GH_TOKEN:+set}" "$*" >> "$records/calls"
            if [ "$1" = api ] && [ "${2:-}" != -X ]; then
              cat "$records/existing-comment-ids" 2>/dev/null || true
            elif [ "$1" = pr ] && [ "${2:-}" = comment ]; then
              while [ $# -gt 0 ]; do
                if [ "$1" = --body-file ]; then
                  n=$(find "$records" -name 'comment-*.md' | wc -l)
                  cp "$2" "$records/comment-$n.md"
                fi
                shift
              done
            fi

            """.write(to: gh, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: gh.path)
    }

    func remove() { try? FileManager.default.removeItem(at: bin.deletingLastPathComponent()) }

    /// What the fake `gh` was asked, one line per call: "token=set <arguments>".
    var ghCalls: [String] {
        ((try? String(contentsOf: ghRecords.appendingPathComponent("calls"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    /// The bodies `gh pr comment` posted, in order.
    var postedComments: [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: ghRecords.path)) ?? [])
            .filter { $0.hasPrefix("comment-") }
            .sorted { Int($0.dropFirst(8).dropLast(3)) ?? 0 < Int($1.dropFirst(8).dropLast(3)) ?? 0 }
        return names.compactMap { try? String(contentsOf: ghRecords.appendingPathComponent($0), encoding: .utf8) }
    }

    func setExistingComments(_ ids: [Int]) throws {
        try ids.map(String.init).joined(separator: "\n")
            .write(to: ghRecords.appendingPathComponent("existing-comment-ids"), atomically: true, encoding: .utf8)
    }

    /// Runs one script; `environment` is all the job has besides PATH and HOME.
    func run(_ script: String, name: String, environment: [String: String]) throws -> StepResult {
        let file = home.appendingPathComponent("step-\(UUID().uuidString).sh")
        try script.write(to: file, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["--noprofile", "--norc", "-eo", "pipefail", file.path]
        p.currentDirectoryURL = checkout
        var env = environment
        env["PATH"] = bin.path + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        env["HOME"] = home.path
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return StepResult(name: name, status: p.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}

/// A CI example file read with beamsync's own YAML reader (YAML 1.2, positions kept).
struct CIExampleFile {
    let path: String
    let root: SourceNode

    init(_ relativePath: String) throws {
        path = relativePath
        let bytes = Array(try Data(contentsOf: repositoryRoot.appendingPathComponent(relativePath)))
        let loaded = YAMLLoader.load(file: relativePath, bytes: bytes)
        #expect(loaded.diagnostics.isEmpty, "\(relativePath): \(loaded.diagnostics)")
        root = try #require(loaded.documents.first?.root, "\(relativePath) holds no YAML document")
    }

    func node(_ keys: String...) throws -> SourceNode {
        var node = root
        for key in keys {
            guard case .mapping(let mapping) = node, let next = mapping.value(for: key) else {
                throw CIExampleError("\(path): no '\(keys.joined(separator: "."))'")
            }
            node = next
        }
        return node
    }
}

struct CIExampleError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension SourceNode {
    var string: String? {
        if case .scalar(let s) = self {
            if case .string(let text) = s.value { return text }
            return s.text
        }
        return nil
    }

    var items: [SourceNode] {
        if case .sequence(let s) = self { return s.items }
        return []
    }

    subscript(key: String) -> SourceNode? {
        if case .mapping(let m) = self { return m.value(for: key) }
        return nil
    }

    /// A mapping of scalars as a dictionary (variables, env).
    var stringMap: [String: String] {
        guard case .mapping(let m) = self else { return [:] }
        var map: [String: String] = [:]
        for entry in m.entries { map[entry.key] = entry.value.string ?? "" }
        return map
    }
}

/// Replaces GitHub's `${{ expression }}` with values from `context`; an expression the test does
/// not know is an error (the workflow uses something the test does not model).
func substituteGitHubExpressions(_ text: String, _ context: [String: String]) throws -> String {
    var result = ""
    var rest = Substring(text)
    while let open = rest.range(of: "${{") {
        result += rest[..<open.lowerBound]
        guard let close = rest[open.upperBound...].range(of: "}}") else { throw CIExampleError("unclosed ${{ in \(text)") }
        let expression = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
        guard let value = context[expression] else { throw CIExampleError("the test does not model the expression '\(expression)'") }
        result += value
        rest = rest[close.upperBound...]
    }
    return result + rest
}
