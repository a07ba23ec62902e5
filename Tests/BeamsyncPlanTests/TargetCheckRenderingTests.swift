import BeamsyncModel
import BeamsyncPlan
import Foundation
import Testing

/// Three reports as `plan --check-targets` produces them: one passed, one failed, one not checked.
private let reports = [
    TargetCheckReport(profile: "good", kind: .dim, target: "http://dim.example.org:8001", steps: [
        TargetCheckStep(name: "profile", description: "the profile names ...", outcome: .passed, seconds: 0),
        TargetCheckStep(name: "tm", description: "Translator Manager answers", outcome: .passed, seconds: 0.012, detail: "DALiuGE 6.6.0"),
        TargetCheckStep(name: "dim", description: "DIM answers", outcome: .passed, seconds: 0.2),
    ]),
    TargetCheckReport(profile: "bad", kind: .dim, target: "http://dim.example.org:8001", steps: [
        TargetCheckStep(name: "profile", description: "the profile names ...", outcome: .passed, seconds: 0),
        TargetCheckStep(name: "tm", description: "Translator Manager http://tm:8084 answers", outcome: .failed, seconds: 1.5,
                        detail: "no answer from http://tm:8084: connection refused", hint: "check translation.tm_url"),
        TargetCheckStep(name: "dim", description: "DIM answers", outcome: .skipped, seconds: 0, detail: "not run: an earlier step failed"),
    ]),
    TargetCheckReport(profile: "hpc", kind: .slurm, target: "login.example.org:22", steps: [
        TargetCheckStep(name: "unavailable", description: "slurm ping is not available in this build", outcome: .skipped, seconds: 0,
                        detail: "slurm ping is not available in this build"),
    ]),
]

private func plan(checks: [TargetCheckReport]?, errors: Bool = false) throws -> Plan {
    var plan = Planner().plan(desired: try desired(["profiles/good.yaml": profile("good")]), live: LiveState(), source: "repo")
    plan.targetChecks = checks
    plan.diagnostics.append(Diagnostic(errors ? .error : .warning, code: .targetCheckFailed, location: nil, path: "",
                                       message: "profile 'bad': dim ping failed at step tm", hint: "check translation.tm_url"))
    plan.diagnostics.append(Diagnostic(.warning, code: .drift, location: nil, path: "", message: "profile 'x' was changed outside git"))
    return plan
}

@Suite("target checks in plan output")
struct TargetCheckRenderingTests {
    @Test("the text plan lists each profile's check: passed with its step count, failed with the step and what to check, not checked with why")
    func text() throws {
        let text = TextRenderer().render(try plan(checks: reports))
        #expect(text.contains("""
            Target checks:
              ✓ profile "good" (dim http://dim.example.org:8001): 3 steps passed in 0.212s
              ✗ profile "bad" (dim http://dim.example.org:8001): failed at tm after 1.500s: no answer from http://tm:8084: connection refused
                  check: check translation.tm_url
              - profile "hpc" (slurm login.example.org:22): not checked: slurm ping is not available in this build
            """))
        #expect(text.contains("Warnings:\n  warning: profile 'x' was changed outside git\n\nPlan:"),
                "a failed check is listed once, in its section, not again among the warnings")
        #expect(!TextRenderer().render(try plan(checks: nil)).contains("Target checks"), "no section when checks were not asked for")
    }

    @Test("a plan whose failed checks are errors still shows the checks after the errors")
    func textWithErrors() throws {
        let text = TextRenderer().render(try plan(checks: reports, errors: true))
        let errors = try #require(text.range(of: "Planning failed: 1 error"))
        let section = try #require(text.range(of: "Target checks:"))
        #expect(errors.lowerBound < section.lowerBound)
    }

    @Test("the Markdown comment has a table row per profile, failures with the step, what was found and what to check")
    func markdown() throws {
        let md = MarkdownRenderer().render(try plan(checks: reports)).joined()
        #expect(md.contains("#### Target checks\n\n| | profile | target | result | time |\n|---|---|---|---|---:|\n"))
        #expect(md.contains("| ✅ | <code>good</code> | dim <code>http://dim.example.org:8001</code> | passed (3 steps) | 0.212s |"))
        #expect(md.contains("| ❌ | <code>bad</code> | dim <code>http://dim.example.org:8001</code> | failed at <code>tm</code>: "
                            + "no answer from http://tm:8084: connection refused<br>check: check translation.tm_url | 1.500s |"))
        #expect(md.contains("| ➖ | <code>hpc</code> | slurm <code>login.example.org:22</code> | not checked: slurm ping is not available in this build | — |"))
        #expect(md.contains("#### Warnings\n\n- ⚠️ warning: profile 'x' was changed outside git\n\n"))
        #expect(!md.contains("⚠️ warning: profile 'bad'"))
        let withErrors = MarkdownRenderer().render(try plan(checks: reports, errors: true)).joined()
        #expect(withErrors.contains("**Planning failed**") && withErrors.contains("#### Target checks"))
    }

    @Test("the full report of a ping: every step with its time, the failed step's finding and hint, skipped steps marked")
    func fullReport() {
        let text = TextRenderer().targetCheck(reports[1])
        #expect(text == """
            dim ping bad → http://dim.example.org:8001
              ✓ profile  0.000s    the profile names ...
              ✗ tm       1.500s    Translator Manager http://tm:8084 answers
                                   no answer from http://tm:8084: connection refused
                                   check: check translation.tm_url
              - dim      skipped   DIM answers
                                   not run: an earlier step failed
            ✗ failed at step tm after 1.500s

            """)
    }

    @Test("target_checks is in the plan JSON only when checks ran, and reads back")
    func json() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let without = String(decoding: try encoder.encode(try plan(checks: nil)), as: UTF8.self)
        #expect(!without.contains("target_checks"))
        let with = try encoder.encode(try plan(checks: reports))
        let json = try JSONValue.parse(bytes: Array(with))
        let first = try #require(json["target_checks"]?.arrayValue?.first)
        #expect(first["profile"] == .string("good") && first["kind"] == .string("dim"))
        #expect(first["steps"]?.arrayValue?[1]["outcome"] == .string("passed"))
        let decoded = try JSONDecoder().decode(Plan.self, from: with)
        #expect(decoded.targetChecks == reports)
    }
}
