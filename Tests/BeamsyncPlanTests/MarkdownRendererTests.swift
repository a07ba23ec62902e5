import BeamsyncModel
import BeamsyncPlan
import Testing

@Suite("Markdown plan comments")
struct MarkdownRendererTests {
    @Test("summary table first, one collapsible block per change, impact and warnings after")
    func layout() throws {
        let old = try desired(["profiles/a.yaml": profile("a", project: "w", isDefault: true), "profiles/b.yaml": profile("b", project: "w")])
        let new = try desired(["profiles/a.yaml": profile("a", project: "w"), "profiles/b.yaml": profile("b", project: "w", isDefault: true, port: 9001)])
        let parts = MarkdownRenderer().render(Planner().plan(desired: new, live: applied(old), source: "main@abc123"))
        #expect(parts.count == 1)
        let md = parts[0]
        #expect(md.hasPrefix(MarkdownRenderer.marker))
        let table = try #require(md.range(of: "| create | change | delete | trigger | unchanged |"))
        let firstBlock = try #require(md.range(of: "<details>"))
        #expect(table.lowerBound < firstBlock.lowerBound)
        #expect(md.contains("| 0 | 2 | 0 | 0 | 0 |"))
        #expect(md.contains("<b>update (stops being default)</b> DeploymentProfile <code>a</code>"))
        #expect(md.contains("| `deployment.deploy_port` | <code>8001</code> | <code>9001</code> |"))
        #expect(md.contains("#### Impact on future executions"))
        #expect(md.contains("| `w` | `a` | `b` |"))
    }

    @Test("long plans are split into numbered parts under the limit, cut between blocks")
    func splitting() throws {
        var files: [String: String] = [:]
        for i in 0..<300 { files["profiles/p\(i).yaml"] = profile("p\(i)", port: 8001) }
        let old = try desired(files)
        for i in 0..<300 { files["profiles/p\(i).yaml"] = profile("p\(i)", port: 9001) }
        let plan = Planner().plan(desired: try desired(files), live: applied(old), source: "x")
        // Detailed blocks and no cap on parts: this is about where parts are cut.
        let parts = MarkdownRenderer(maxPartLength: 10_000, maxParts: 100, compactThreshold: 1_000).render(plan)
        #expect(parts.count > 2)
        for (i, part) in parts.enumerated() {
            #expect(part.count <= 10_000)
            #expect(part.hasPrefix(MarkdownRenderer.marker))
            #expect(part.contains("Part \(i + 1) of \(parts.count)"))
            #expect(part.components(separatedBy: "<details>").count == part.components(separatedBy: "</details>").count)
        }
        #expect(parts.joined().components(separatedBy: "<details>").count - 1 == 300)
    }

    @Test("HTML in names and values is escaped")
    func escaping() throws {
        let state = try desired(["profiles/a.yaml": "name: a\ndescription: \"<script>x</script> | pipe\"\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: h}\n"])
        let old = try desired(["profiles/a.yaml": "name: a\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: h}\n"])
        let md = MarkdownRenderer().render(Planner().plan(desired: state, live: applied(old), source: "x")).joined()
        #expect(!md.contains("<script>"))
        #expect(md.contains("&lt;script&gt;"))
        #expect(md.contains("&#124; pipe"))
    }

    @Test("a failed plan says so and lists the errors")
    func failedPlan() throws {
        let state = try desired(["profiles/a.yaml": profile("a")])
        var live = applied(state)
        live.inventory = []
        let md = MarkdownRenderer().render(Planner().plan(desired: state, live: live, source: "x")).joined()
        #expect(md.contains("**Planning failed** with 1 error"))
        #expect(md.contains("not managed by beamsync"))
    }
}
