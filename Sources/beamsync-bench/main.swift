import BeamsyncCLI
import BeamsyncModel
import BeamsyncOperations
import BeamsyncPlan
import BeamsyncPostgres
import BeamsyncStore
import Foundation

// Fixed workloads that measure beamsync's hot paths. Run with `scripts/bench.sh` (release build).
// Each line prints the figure, its goal, and the ratio goal/measured (>1 beats it).
// `beamsync-bench engine` measures the execution engine instead (`scripts/bench-engine.sh`), and
// `beamsync-bench slurm` the slurm_remote backend (`scripts/bench-slurm.sh`).

if CommandLine.arguments.dropFirst().first == "engine" {
    try await EngineBench.main(arguments: Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
// `beamsync-bench api` measures the HTTP API of a running controller instead (`scripts/bench-api.sh`).
if CommandLine.arguments.dropFirst().first == "api" {
    try await APIBench.main(arguments: Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "slurm" {
    try await SlurmBench.main(arguments: Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}

func measure(_ label: String, goalSeconds: Double, repeats: Int = 3, _ body: () -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    let verdict = best <= goalSeconds ? "ok" : "SLOWER THAN GOAL"
    let padded = label.padding(toLength: 52, withPad: " ", startingAt: 0)
    print(padded + String(format: " %8.3f s   goal %.2f s   ratio %.2fx  ", best, goalSeconds, goalSeconds / best) + verdict)
    return best
}

/// Writes `count` distinct, valid profile files (half REST, half Slurm, ten projects) to `dir`.
func generateProfiles(count: Int, in dir: URL) throws {
    let profiles = dir.appendingPathComponent("profiles")
    try FileManager.default.createDirectory(at: profiles, withIntermediateDirectories: true)
    for i in 0..<count {
        let text: String
        if i % 2 == 0 {
            text = """
                # yaml-language-server: $schema=../deployment-profile.schema.json
                apiVersion: beampipe.dev/v1
                kind: DeploymentProfile
                name: rest-\(i)
                description: Generated REST profile number \(i)
                project_module: project-\(i % 10)
                is_default: false
                max_concurrent_executions: \(1 + i % 4)
                translation:
                  algo: metis
                  num_par: \(1 + i % 8)
                  num_islands: 0
                  tm_url: http://dlg-tm-\(i % 3):8084
                deployment:
                  kind: rest_remote
                  dim_host_for_tm: dim-\(i % 5)
                  dim_port_for_tm: 8001
                  deploy_host: dim-\(i % 5).example.org
                  deploy_port: 8001
                  use_https: false
                  verify_ssl: true

                """
        } else {
            text = """
                name: slurm-\(i)
                description: Generated Slurm profile number \(i)
                project_module: project-\(i % 10)
                translation: {algo: mysarkar, num_par: \(1 + i % 8), num_islands: 1}
                deployment:
                  kind: slurm_remote
                  login_node: login\(i % 4).example.org
                  ssh_port: 22
                  account: acct\(i % 7)
                  home_dir: /home/beampipe
                  log_dir: /scratch/beampipe/logs
                  dlg_root: /scratch/beampipe/dlg
                  job_duration_minutes: \(10 + i % 50)
                  num_nodes: \(1 + i % 3)
                  ssh_credential: slot-\(i % 3)
                  resources: {partition: work, memory: 64G}

                """
        }
        try text.write(to: profiles.appendingPathComponent(String(format: "p%05d.yaml", i)), atomically: false, encoding: .utf8)
    }
}

let workDir = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-bench-\(getpid())")
defer { try? FileManager.default.removeItem(at: workDir) }
try generateProfiles(count: 10_000, in: workDir)
print("beamsync bench — \(ProcessInfo.processInfo.activeProcessorCount) cores, workload: 10,000 profile files (\(workDir.path))")

// `beamsync-bench [validate|store|noop|controller|page ...]` runs only the named groups (all by default).
// `profile-parse`, `profile-plan` and `profile-apply` run one phase alone, for `perf record`.
let groups = Set(CommandLine.arguments.dropFirst())
func selected(_ group: String) -> Bool { groups.isEmpty || groups.contains(group) }

let tree = DirectoryTree.read(root: workDir.path)
var documents = 0
if selected("validate") {
_ = measure("validate 10,000 profile files (read+parse+check)", goalSeconds: 1.0) {
    let report = ValidationRun.run(paths: [workDir.path])
    precondition(report.isValid, "generated workload must be valid: \(report.diagnostics.prefix(3))")
    documents = report.documents
}
precondition(documents == 10_000)
_ = measure("  of which parse+check only (files in memory)", goalSeconds: 1.0) {
    _ = DesiredStateLoader.load(files: tree.files)
}
var serial = LoadOptions()
serial.parallel = false
_ = measure("  parse+check on one thread", goalSeconds: 2.0) {
    _ = DesiredStateLoader.load(files: tree.files, options: serial)
}
let loaded = DesiredStateLoader.load(files: tree.files)
_ = measure("spec_sha256 of 10,000 profiles", goalSeconds: 0.2) {
    var n = 0
    for p in loaded.state!.profiles { n &+= p.value.specSHA256.utf8.count }
    precondition(n == 640_000)
}
}

// MARK: - PostgreSQL workloads (plan and apply). Needs BEAMSYNC_BENCH_DATABASE_URL (scripts/bench.sh starts a server).

let env = ProcessInfo.processInfo.environment
if let adminURL = env["BEAMSYNC_BENCH_DATABASE_URL"] {
    if selected("store") { try await storeBenchmarks(adminURL: adminURL, tree: tree, workDir: workDir) }
    if selected("noop") { try await noOpPlanBenchmark(adminURL: adminURL, tree: tree, root: workDir.path) }
    if selected("controller") { try await ControllerBench.run(adminURL: adminURL, profilesDir: workDir.appendingPathComponent("profiles")) }
    if selected("page") { try await PageBench.run(adminURL: adminURL) }
    if selected("scale") {
        try await ScaleBench.run(adminURL: adminURL, smallDir: workDir, workDir: workDir.deletingLastPathComponent())
    }
} else {
    print("(PostgreSQL workloads skipped: BEAMSYNC_BENCH_DATABASE_URL is not set; run scripts/bench.sh)")
}

func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let value = try await body()
    return (value, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

func report(_ label: String, _ seconds: Double, goal: Double?) {
    var line = label.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: " %8.3f s", seconds)
    if let goal { line += String(format: "   goal %.2f s   ratio %.2fx  ", goal, goal / seconds) + (seconds <= goal ? "ok" : "SLOWER THAN GOAL") }
    print(line)
}

func withBenchDatabase<T>(_ adminURL: String, _ body: (PGConnection, String) async throws -> T) async throws -> T {
    let name = "bench_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
    let admin = try await PGConnection.connect(conninfo: adminURL)
    try await admin.execute("CREATE DATABASE \(name)")
    var components = URLComponents(string: adminURL)!
    components.path = "/" + name
    let conn = try await PGConnection.connect(conninfo: components.string!)
    _ = try await Migrator.beamsync.migrate(conn)
    do {
        let value = try await body(conn, components.string!)
        await conn.close()
        try await admin.execute("DROP DATABASE \(name) WITH (FORCE)")
        await admin.close()
        return value
    } catch {
        await conn.close()
        _ = try? await admin.execute("DROP DATABASE \(name) WITH (FORCE)")
        throw error
    }
}

func run(_ executable: String, _ arguments: [String], stdin: String? = nil) throws -> Double {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    p.standardOutput = FileHandle.nullDevice
    let input = Pipe()
    if stdin != nil { p.standardInput = input }
    let start = DispatchTime.now().uptimeNanoseconds
    try p.run()
    if let stdin {
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
    }
    p.waitUntilExit()
    precondition(p.terminationStatus == 0, "\(executable) \(arguments.prefix(3)) failed")
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func storeBenchmarks(adminURL: String, tree: DirectoryTree.Result, workDir: URL) async throws {
    print("\nPostgreSQL workloads (10,000 profiles, one local server on loopback):")
    let options = PlanOptions()
    func load(_ files: [SourceFile], live: LiveState) -> DesiredState {
        var o = LoadOptions()
        o.externalProfiles = live.externalProfiles
        return DesiredStateLoader.load(files: files, options: o).state!
    }
    // Apply 10,000 creates: parse + plan + write in one transaction. Best of three fresh databases.
    var applySeconds = Double.infinity
    for _ in 0..<3 {
        try await withBenchDatabase(adminURL) { conn, _ in
            let r = ApplyTransaction(conn: conn)
            let (_, t) = try await timed {
                let (_, result) = try await r.apply(loading: { live in (load(tree.files, live: live), options) },
                                                    source: "bench", actor: "bench", revision: nil)
                precondition(result.created == 10_000)
            }
            applySeconds = min(applySeconds, t)
        }
    }
    report("apply 10,000 creates (parse+plan+write, 1 tx)", applySeconds, goal: 1.5)
    try await withBenchDatabase(adminURL) { conn, _ in
        let r = ApplyTransaction(conn: conn)
        let (live, tRead) = try await timed { try await r.readLive() }
        let (state, tParse) = await timed { load(tree.files, live: live) }
        let (plan, tPlan) = await timed { Planner(options: options).plan(desired: state, live: live, source: "bench") }
        let (_, tWrite) = try await timed {
            try await conn.transaction { c in try await PlanApplier(actor: "bench", revision: nil).apply(plan, on: c) }
        }
        print(String(format: "    of which: read live %.3f s, parse+check %.3f s, plan %.3f s, write+commit %.3f s", tRead, tParse, tPlan, tWrite))
    }

    var planChanged = Double.infinity, applyUpdates = Double.infinity
    try await withBenchDatabase(adminURL) { conn, _ in
        let r = ApplyTransaction(conn: conn)
        _ = try await r.apply(load(tree.files, live: LiveState()), options: options, source: "bench", actor: "bench", revision: nil)
        // Every profile edited: the plan has 10,000 updates.
        let edited = tree.files.map { f in
            SourceFile(path: f.path, bytes: Array(String(decoding: f.bytes, as: UTF8.self)
                .replacingOccurrences(of: "description: Generated", with: "description: Edited").utf8))
        }
        for _ in 0..<3 {
            let (plan, t) = try await timed {
                let live = try await r.readLive()
                return Planner(options: options).plan(desired: load(edited, live: live), live: live, source: "bench")
            }
            precondition(plan.summary.update == 10_000)
            planChanged = min(planChanged, t)
        }
        let (_, t) = try await timed {
            _ = try await r.apply(loading: { live in (load(edited, live: live), options) }, source: "bench", actor: "bench", revision: nil)
        }
        applyUpdates = t
    }
    report("plan with 10,000 updates against the database", planChanged, goal: 1.0)
    // The driver alone: 10,000 single-row upserts sent as one libpq pipeline.
    try await withBenchDatabase(adminURL) { conn, _ in
        try await conn.execute("CREATE TABLE up (name TEXT PRIMARY KEY, spec JSONB, revision INT NOT NULL DEFAULT 1)")
        let statements: [(sql: String, params: [PGValue?])] = (0..<10_000).map { i in
            ("INSERT INTO up (name, spec) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, revision = up.revision + 1",
             [.text("profile-\(i)"), .json(#"{"i": \#(i)}"#)])
        }
        _ = try await conn.pipeline(statements)
        let (_, t) = try await timed { _ = try await conn.pipeline(statements) }
        report("10,000 upserts in one pipeline (driver only)", t, goal: nil)
    }
    report("apply 10,000 updates (parse+plan+write, 1 tx)", applyUpdates, goal: nil)

    // Baseline (a): 10,000 single-row upsert transactions over one psql connection.
    let desired = load(tree.files, live: LiveState())
    func literal(_ s: String?) -> String { s.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" } ?? "NULL" }
    var sql = ""
    var tsv = ""
    func tsvField(_ s: String?) -> String {
        guard let s else { return "\\N" }
        return s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\t", with: "\\t").replacingOccurrences(of: "\n", with: "\\n")
    }
    for p in desired.profiles.map(\.value) {
        let t = p.translation.json.canonicalString, d = p.deployment.json.canonicalString
        sql += "BEGIN;\nINSERT INTO daliuge_deployment_profile (name, description, project_module, is_default, max_concurrent_executions, translation, deployment, spec_sha256) VALUES (\(literal(p.name)), \(literal(p.description)), \(literal(p.projectModule)), \(p.isDefault), \(p.maxConcurrentExecutions.map(String.init) ?? "NULL"), \(literal(t)), \(literal(d)), \(literal(p.specSHA256))) ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, translation = EXCLUDED.translation, deployment = EXCLUDED.deployment, revision = daliuge_deployment_profile.revision + 1;\nCOMMIT;\n"
        tsv += [p.name, p.description, p.projectModule, p.isDefault ? "t" : "f", p.maxConcurrentExecutions.map(String.init), t, d, p.specSHA256].map(tsvField).joined(separator: "\t") + "\n"
    }
    let sqlFile = workDir.appendingPathComponent("upserts.sql"), tsvFile = workDir.appendingPathComponent("rows.tsv")
    try sql.write(to: sqlFile, atomically: true, encoding: .utf8)
    try tsv.write(to: tsvFile, atomically: true, encoding: .utf8)
    let psql = "/usr/bin/psql"
    var upsertSeconds = 0.0, copySeconds = 0.0
    try await withBenchDatabase(adminURL) { _, url in
        upsertSeconds = try run(psql, ["-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", sqlFile.path])
    }
    try await withBenchDatabase(adminURL) { _, url in
        copySeconds = try run(psql, ["-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", url, "-c",
            "\\copy daliuge_deployment_profile (name, description, project_module, is_default, max_concurrent_executions, translation, deployment, spec_sha256) FROM '\(tsvFile.path)'"])
    }
    report("(a) 10,000 single-row upsert transactions (psql)", upsertSeconds, goal: nil)
    print(String(format: "    apply is %.1fx faster than (a)   goal >= 3x  %@", upsertSeconds / applySeconds, upsertSeconds / applySeconds >= 3 ? "ok" : "BELOW GOAL"))
    if let floorParser = env["BEAMSYNC_BENCH_YAML_FLOOR"] {
        let list = tree.files.map { workDir.appendingPathComponent($0.path).path }.joined(separator: "\n")
        var parseSeconds = Double.infinity
        for _ in 0..<3 { parseSeconds = min(parseSeconds, try run(floorParser, [], stdin: list)) }
        report("(b) floor: libyaml parse of the same files (C)", parseSeconds, goal: nil)
        report("(b) floor: one COPY of the same rows (psql)", copySeconds, goal: nil)
        let floor = parseSeconds + copySeconds
        let ours = applySeconds
        print(String(format: "    plan+apply is %.2fx the floor (%.3f s)   goal <= 3x  %@", ours / floor, floor, ours / floor <= 3 ? "ok" : "ABOVE GOAL"))
    } else {
        print("(floor skipped: BEAMSYNC_BENCH_YAML_FLOOR is not set)")
    }
}

/// A no-op `plan --dir` of an unchanged directory against a database that holds it: read the
/// files, read the live state, parse and check, plan. Best of three, then one run broken down.
func noOpPlanBenchmark(adminURL: String, tree: DirectoryTree.Result, root: String) async throws {
    let options = PlanOptions()
    func load(_ files: [SourceFile], live: LiveState) -> DesiredState {
        var o = LoadOptions()
        o.externalProfiles = live.externalProfiles
        return DesiredStateLoader.load(files: files, options: o).state!
    }
    try await withBenchDatabase(adminURL) { conn, _ in
        let r = ApplyTransaction(conn: conn)
        _ = try await r.apply(load(tree.files, live: LiveState()), options: options, source: "bench", actor: "bench", revision: nil)
        var best = Double.infinity
        for _ in 0..<3 {
            let (plan, t) = try await timed {
                // Exactly what `beamsync plan --dir` runs: files read and parsed while the live state is read.
                try await Reconciliation(conn: conn).plan(.directory(root), overrides: PolicyOverrides())
            }
            precondition(!plan.summary.hasChanges)
            best = min(best, t)
        }
        report("no-op plan, unchanged directory (read+parse+plan)", best, goal: 0.5)
        let (files, tFiles) = await timed { DirectoryTree.read(root: root).files }
        let (live, tRead) = try await timed { try await r.readLive() }
        let recorded = Dictionary(live.inventory.filter { $0.kind == .deploymentProfile }.map { ($0.name, $0.rowVersion) }, uniquingKeysWith: { a, _ in a })
        let unchanged = live.profiles.filter { $0.rowVersion != nil && recorded[$0.name] == $0.rowVersion }.count
        let (state, tParse) = await timed { load(files, live: live) }
        let (_, tPlan) = await timed { Planner(options: options).plan(desired: state, live: live, source: "bench") }
        print(String(format: "    of which: read files %.3f s, read live %.3f s, parse+check %.3f s, plan %.3f s", tFiles, tRead, tParse, tPlan)
              + " (\(unchanged) of \(live.profiles.count) rows known unchanged by their version)")
    }
}

// `beamsync-bench profile-parse|profile-plan`: the phase alone in a loop, for `perf record`.
if groups.contains("profile-parse") {
    var serialOptions = LoadOptions()
    serialOptions.parallel = false
    var best = Double.infinity
    for _ in 0..<10 {
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a)
        _ = DesiredStateLoader.load(files: tree.files, options: serialOptions)
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b)
        best = min(best, Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9)
    }
    print(String(format: "parse+check of 10,000 files on one thread: %.3f s CPU (best of 10)", best))
}
if groups.contains("profile-plan") {
    let desired = DesiredStateLoader.load(files: tree.files).state!
    var live = LiveState(simulating: desired)
    // As read back after an apply: every row's digest matches the one its inventory entry recorded.
    for i in live.profiles.indices { live.profiles[i].rowVersion = "d\(i)" }
    let digestByName = Dictionary(uniqueKeysWithValues: live.profiles.map { ($0.name, $0.rowVersion!) })
    for i in live.inventory.indices { live.inventory[i].rowVersion = digestByName[live.inventory[i].name] }
    var best = Double.infinity
    for _ in 0..<10 {
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a)
        let plan = Planner().plan(desired: desired, live: live, source: "bench")
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b)
        precondition(!plan.summary.hasChanges)
        best = min(best, Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9)
    }
    print(String(format: "no-op plan of 10,000 profiles: %.3f s CPU, all threads (best of 10)", best))
}
if groups.contains("profile-apply"), let adminURL = env["BEAMSYNC_BENCH_DATABASE_URL"] {
    try await withBenchDatabase(adminURL) { conn, _ in
        let desired = DesiredStateLoader.load(files: tree.files).state!
        let plan = Planner().plan(desired: desired, live: LiveState(), source: "bench")
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try await conn.transaction { c in try await PlanApplier(actor: "bench", revision: nil).apply(plan, on: c) }
        print(String(format: "write+commit of 10,000 creates: %.3f s", Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
    }
}
