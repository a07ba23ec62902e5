import BeamsyncModel
import BeamsyncOperations
import BeamsyncPlan
import Foundation
import Testing

/// A checker that takes `delay` and passes or fails; `ignoresCancellation` makes it sleep on
/// regardless, like a checker stuck in a blocking call.
private struct ScriptedChecker: TargetChecker {
    var delay: Duration
    var fails: Set<String> = []
    var ignoresCancellation = false

    func handles(_ kind: DeploymentKind) -> Bool { kind == .restRemote }

    func check(_ profile: DeploymentProfile) async -> TargetCheckReport {
        if ignoresCancellation {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(delay.components.seconds * 1000))) { done.resume() }
            }
        } else {
            try? await Task.sleep(for: delay)
        }
        let failed = fails.contains(profile.name)
        return TargetCheckReport(profile: profile.name, kind: .dim, target: "scripted", steps: [
            TargetCheckStep(name: "dim", description: "scripted", outcome: failed ? .failed : .passed, seconds: 0,
                            detail: failed ? "scripted failure" : nil, hint: failed ? "scripted hint" : nil),
        ])
    }
}

private func rest(_ name: String) -> String {
    "name: \(name)\ntranslation: {tm_url: \"http://tm:8084\"}\ndeployment: {kind: rest_remote, dim_host_for_tm: d, deploy_host: d}\n"
}

private func slurm(_ name: String) -> String {
    "name: \(name)\ntranslation: {}\ndeployment: {kind: slurm_remote, login_node: login.example.org, account: a, home_dir: /h, log_dir: /h/l, dlg_root: /h/d}\n"
}

/// A plan that creates `files`' profiles, from a real directory through the real planner.
private func plan(_ files: [String: String], live: LiveState = LiveState()) throws -> Plan {
    let lab = try SecurityLab()
    defer { lab.remove() }
    for (path, text) in files { try lab.write(path, text) }
    return try Reconciliation.plan(ParsedSource(DirectoryTree.snapshot(of: lab.path)), against: live, overrides: PolicyOverrides())
}

@Suite("plan --check-targets: running the checks")
struct TargetCheckRunTests {
    @Test("each created profile is checked once, in plan order; slurm without a checker is reported as not checked")
    func reportsAndDiagnostics() async throws {
        let planned = try plan(["profiles/a.yaml": rest("a"), "profiles/b.yaml": rest("b"), "profiles/hpc.yaml": slurm("hpc")])
        let run = TargetCheckRun(checkers: [ScriptedChecker(delay: .milliseconds(10), fails: ["b"])], deadline: .seconds(5))
        let checked = await run.checked(planned, require: false)
        let reports = try #require(checked.targetChecks)
        #expect(reports.map(\.profile) == ["a", "b", "hpc"])
        #expect(reports.map(\.passed) == [true, false, true])
        #expect(reports[2].kind == .slurm && !reports[2].checked && reports[2].target == "login.example.org:22")
        #expect(reports[2].steps == [TargetCheckStep(name: "unavailable", description: "slurm ping is not available in this build",
                                                     outcome: .skipped, seconds: 0, detail: "slurm ping is not available in this build")])
        let diagnostic = try #require(checked.diagnostics.first { $0.code == .targetCheckFailed })
        #expect(diagnostic.severity == .warning && !checked.hasErrors, "a failed check warns; it does not block apply")
        #expect(diagnostic.message == "profile 'b': dim ping failed at step dim: scripted failure")
        #expect(diagnostic.hint == "scripted hint")
        #expect(diagnostic.location?.file.hasSuffix("profiles/b.yaml") == true && diagnostic.location?.line == 1)

        let required = await run.checked(planned, require: true)
        #expect(required.hasErrors && required.diagnostics.errors.map(\.code) == [.targetCheckFailed])
    }

    @Test("checks run concurrently: eight half-second checks take about half a second, not four")
    func concurrent() async throws {
        var files: [String: String] = [:]
        for i in 0..<8 { files["profiles/p\(i).yaml"] = rest("p\(i)") }
        let run = TargetCheckRun(checkers: [ScriptedChecker(delay: .milliseconds(500))], deadline: .seconds(5))
        let start = ContinuousClock.now
        let checked = await run.checked(try plan(files), require: false)
        let elapsed = ContinuousClock.now - start
        #expect(checked.targetChecks?.count == 8 && checked.targetChecks?.allSatisfy(\.passed) == true)
        #expect(elapsed < .seconds(2), "\(elapsed)")
    }

    @Test("a checker that overruns its deadline (and ignores cancellation) is abandoned and reported as failed")
    func deadline() async throws {
        var run = TargetCheckRun(checkers: [ScriptedChecker(delay: .seconds(6), ignoresCancellation: true)], deadline: .seconds(1))
        run.grace = .milliseconds(200)
        let start = ContinuousClock.now
        let checked = await run.checked(try plan(["profiles/slow.yaml": rest("slow")]), require: false)
        #expect(ContinuousClock.now - start < .seconds(3))
        let report = try #require(checked.targetChecks?.first)
        #expect(report.firstFailure?.name == "deadline")
        #expect(report.firstFailure?.detail == "dim ping did not finish within 1 s and was abandoned")
        #expect(report.firstFailure?.hint == "a peer is not answering; run `beamsync dim ping --profile slow` to see which step hangs")
    }

    @Test("only created and changed profiles are checked: unchanged ones, deletions and other kinds are not")
    func onlyChanges() async throws {
        let lab = try SecurityLab()
        defer { lab.remove() }
        try lab.write("profiles/a.yaml", rest("a"))
        try lab.write("profiles/b.yaml", rest("b"))
        let applied = try #require(ParsedSource(DirectoryTree.snapshot(of: lab.path)).check(externalProfiles: []).state)
        let live = LiveState(simulating: applied)
        let second = try plan(["profiles/a.yaml": rest("a"), "profiles/b.yaml": rest("b").replacingOccurrences(of: "deploy_host: d", with: "deploy_host: e")],
                              live: live)
        let run = TargetCheckRun(checkers: [ScriptedChecker(delay: .zero)], deadline: .seconds(5))
        #expect(TargetCheckRun.targets(changedBy: [second]).map(\.name) == ["b"])
        let checked = await run.checked(second, require: false)
        #expect(checked.targetChecks?.map(\.profile) == ["b"])
    }
}
