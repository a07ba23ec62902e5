import BeamsyncModel
import BeamsyncOperations
import BeamsyncPlan
import BeamsyncPostgres
import BeamsyncStore
import Foundation

/// `beamsync-bench scale`: the same workloads at 10,000 and 100,000 profiles, measured in one run,
/// so the growth factor is read off one machine in one state. Cost must grow no worse than
/// linearly (100,000 ≤ 11× 10,000); the controller's memory at 100,000 must stay ≤ 150 MB.
enum ScaleBench {
    struct Figures {
        var validate = 0.0
        var apply = 0.0
        var plan = 0.0
    }

    static func run(adminURL: String, smallDir: URL, workDir: URL) async throws {
        let largeDir = workDir.appendingPathComponent("beamsync-bench-100k-\(getpid())")
        defer { try? FileManager.default.removeItem(at: largeDir) }
        try generateProfiles(count: 100_000, in: largeDir)
        print("\nScale: the same workloads at 10,000 and 100,000 profiles (goal: ≤ 11× the time; controller ≤ 150 MB)")
        let small = try await measure(dir: smallDir, count: 10_000, adminURL: adminURL)
        let large = try await measure(dir: largeDir, count: 100_000, adminURL: adminURL)
        func row(_ label: String, _ a: Double, _ b: Double) {
            let factor = b / a
            print(label.padding(toLength: 44, withPad: " ", startingAt: 0)
                  + String(format: " %7.3f s  %8.3f s   ×%5.2f   ", a, b, factor) + (factor <= 11 ? "ok" : "WORSE THAN LINEAR"))
        }
        print("workload".padding(toLength: 44, withPad: " ", startingAt: 0) + "   10,000    100,000    growth")
        row("validate (read+parse+check)", small.validate, large.validate)
        row("apply creates (parse+plan+write, 1 tx)", small.apply, large.apply)
        row("no-op plan against a database holding them", small.plan, large.plan)
        try await ControllerBench.firstApplyMemory(adminURL: adminURL, profilesDir: largeDir.appendingPathComponent("profiles"),
                                                   count: 100_000, goalMB: 150)
    }

    /// Validate, apply of creates into an empty database, then a no-op plan against it; best of
    /// two for the smaller tree (the larger one is measured once: it takes tens of seconds).
    static func measure(dir: URL, count: Int, adminURL: String) async throws -> Figures {
        var figures = Figures()
        // The best of two at both sizes: the first pass over freshly written files pays for the page cache and the dentries.
        let repeats = 2
        figures.validate = .infinity
        for _ in 0..<repeats {
            let (report, t) = await timed { ValidationRun.run(paths: [dir.path]) }
            precondition(report.isValid && report.documents == count)
            figures.validate = min(figures.validate, t)
        }
        try await withBenchDatabase(adminURL) { conn, _ in
            let reconciliation = Reconciliation(conn: conn)
            let (result, tApply) = try await timed {
                try await reconciliation.apply(try await ParsedSource.read(.directory(dir.path)), overrides: PolicyOverrides(),
                                               actor: AuditActor(name: "bench"))
            }
            precondition(result.1.created == count)
            figures.apply = tApply
            figures.plan = .infinity
            for _ in 0..<repeats {
                let (plan, t) = try await timed { try await reconciliation.plan(.directory(dir.path), overrides: PolicyOverrides()) }
                precondition(!plan.summary.hasChanges)
                figures.plan = min(figures.plan, t)
            }
        }
        return figures
    }
}
