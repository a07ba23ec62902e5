import BeamsyncModel
import Foundation
import Testing

/// A small deterministic generator so a failing mutation can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Mutation: CaseIterable {
    case flipByte, dropLine, duplicateLine, retypeValue, insertGarbage, truncate, indentLine

    static let replacementValues = ["[", "{}", "123", "\"x\"", "~", "true", "-1", "1.5", "*nope", "&a x", "[1, [2, [3]]]", "'", "|", ">-", "!!binary x", "\t"]

    func apply(to text: String, using rng: inout SplitMix64) -> String {
        var lines = text.components(separatedBy: "\n")
        guard !lines.isEmpty else { return text }
        let i = Int.random(in: 0..<lines.count, using: &rng)
        switch self {
        case .flipByte:
            var bytes = Array(text.utf8)
            guard !bytes.isEmpty else { return text }
            let j = Int.random(in: 0..<bytes.count, using: &rng)
            bytes[j] ^= UInt8.random(in: 1...255, using: &rng)
            return String(decoding: bytes, as: UTF8.self)
        case .dropLine:
            lines.remove(at: i)
        case .duplicateLine:
            lines.insert(lines[i], at: i)
        case .retypeValue:
            if let colon = lines[i].firstIndex(of: ":") {
                lines[i] = String(lines[i][...colon]) + " " + Mutation.replacementValues.randomElement(using: &rng)!
            }
        case .insertGarbage:
            lines.insert(Mutation.replacementValues.randomElement(using: &rng)! + ": " + Mutation.replacementValues.randomElement(using: &rng)!, at: i)
        case .truncate:
            let bytes = Array(text.utf8)
            return String(decoding: bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)), as: UTF8.self)
        case .indentLine:
            lines[i] = String(repeating: " ", count: Int.random(in: 1...5, using: &rng)) + lines[i]
        }
        return lines.joined(separator: "\n")
    }
}

@Suite("Fuzzing the loader")
struct FuzzTests {
    static var corpus: [(String, String)] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let files = ["examples/gitops-repo/profiles/dlg-dim.yaml", "examples/gitops-repo/profiles/slurm-remote.yaml",
                     "examples/gitops-repo/profiles/global.yaml", "examples/gitops-repo/projects/wallaby_hires.yaml",
                     "examples/gitops-repo/executions/hello-2026-11-25.yaml", "examples/gitops-repo/beamsync.yaml"]
        return files.compactMap { path in
            (try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)).map { (path.replacingOccurrences(of: "examples/gitops-repo/", with: ""), $0) }
        }
    }

    @Test("10,000 random mutations of the examples give errors or valid documents, never a crash or a hang")
    func mutations() throws {
        let corpus = Self.corpus
        try #require(corpus.count == 6)
        var rng = SplitMix64(state: 0x5EED_BEA5)
        let start = Date()
        var valid = 0, invalid = 0
        for iteration in 0..<10_000 {
            let (path, text) = corpus[iteration % corpus.count]
            var mutated = text
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                mutated = Mutation.allCases.randomElement(using: &rng)!.apply(to: mutated, using: &rng)
            }
            let result = DesiredStateLoader.load(files: [SourceFile(path: path, bytes: Array(mutated.utf8))])
            if result.diagnostics.hasErrors {
                invalid += 1
                #expect(result.state == nil)
                // Every error names a position or at least a field path.
                #expect(result.diagnostics.errors.allSatisfy { $0.location != nil || !$0.path.isEmpty })
            } else {
                valid += 1
                #expect(result.state != nil)
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed < 120, "10,000 mutations took \(elapsed) s")
        #expect(invalid > 1_000 && valid > 100, "valid \(valid), invalid \(invalid): the mutations should produce both")
    }
}
