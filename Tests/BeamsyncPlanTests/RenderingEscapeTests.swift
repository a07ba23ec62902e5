import BeamsyncModel
import BeamsyncPlan
import Testing

/// Scalars a reviewer could not see, or that would rewrite the terminal or the page: control
/// characters other than the renderer's own line breaks, format characters, line separators.
func hiddenScalars(_ text: String) -> [Unicode.Scalar] {
    text.unicodeScalars.filter { s in
        if s == "\n" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }
}

@Suite("Plan renderings show control and format characters escaped")
struct RenderingEscapeTests {
    func renderings(_ plan: Plan) -> [String] {
        [TextRenderer().render(plan), MarkdownRenderer().render(plan).joined()]
    }

    @Test("bidirectional overrides in a description are shown escaped in text and Markdown")
    func bidiInDescription() throws {
        let old = try desired(["profiles/a.yaml": profile("a")])
        let new = try desired(["profiles/a.yaml": "name: a\ndescription: \"safe \\u202Etxt.exe \\u2066x\\u2069\"\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: dim.example.org}\n"])
        let plan = Planner().plan(desired: new, live: applied(old), source: "main@abc")
        #expect(plan.effectiveChanges.count == 1)
        for out in renderings(plan) {
            #expect(hiddenScalars(out).isEmpty, "\(hiddenScalars(out)) in:\n\(out)")
            #expect(out.contains("\\u{202E}txt.exe \\u{2066}x\\u{2069}"), "\(out)")
        }
    }

    @Test("control characters in values read from the database are shown escaped")
    func controlsFromTheDatabase() throws {
        let state = try desired(["profiles/a.yaml": profile("a")])
        var live = applied(state)
        live.profiles[0].description = "x\u{1B}]0;owned\u{7}\u{9B}2J\u{85}\u{7F}\u{202E}"
        let plan = Planner(options: PlanOptions(heal: true)).plan(desired: state, live: live, source: "main@abc")
        #expect(plan.effectiveChanges.first?.fieldChanges.first?.path == "description")
        for out in renderings(plan) {
            #expect(hiddenScalars(out).isEmpty, "\(hiddenScalars(out)) in:\n\(out)")
            #expect(out.contains("\\u{9B}2J\\u{85}\\u{7F}\\u{202E}"), "\(out)")
        }
    }

    @Test("names of rows outside git and the source are shown escaped")
    func namesAndSource() throws {
        let state = try desired(["profiles/a.yaml": profile("a")])
        var live = applied(state)
        let odd = "old\u{202E}lmth.exe"
        live.profiles.append(LiveProfile(id: "00000000-0000-0000-0000-000000000099", name: odd,
                                         translation: .object([:]), deployment: .object(["kind": .string("rest_remote")])))
        live.inventory.append(InventoryEntry(kind: .deploymentProfile, name: odd, specSHA256: "x"))
        let plan = Planner(options: PlanOptions(prune: true)).plan(desired: state, live: live, source: "repo\u{2067}@main")
        #expect(plan.effectiveChanges.contains { $0.action == .delete && $0.name == odd }, "\(plan.effectiveChanges)")
        for out in renderings(plan) {
            #expect(hiddenScalars(out).isEmpty, "\(hiddenScalars(out)) in:\n\(out)")
            #expect(out.contains("old\\u{202E}lmth.exe"), "\(out)")
            #expect(out.contains("repo\\u{2067}@main"), "\(out)")
        }
    }
}
