import BeamsyncModel

/// Renders a plan as a pull-request comment: a summary table first, then warnings, then each
/// change in a collapsible block (or, past `compactThreshold` changes, one table row each), impact
/// and target checks. Long plans are split into numbered parts that each fit a GitHub comment
/// (65,536 characters), cut only between blocks, and at most `maxParts` of them: what does not fit
/// is counted and left to `beamsync plan --format json`. Every name, path and value is
/// HTML-escaped and shown through `DisplayText.escaped`, so control and format characters
/// (bidirectional overrides that reorder what a reviewer reads) appear as `\u{...}`.
public struct MarkdownRenderer: Sendable {
    /// Marker the CI workflow uses to find and update its own comment.
    public static let marker = "<!-- beamsync-plan -->"
    public var maxPartLength: Int
    /// The most comments one plan posts.
    public var maxParts: Int
    /// More changes than this in one section are listed as table rows without field details.
    public var compactThreshold: Int

    public init(maxPartLength: Int = 65_000, maxParts: Int = 5, compactThreshold: Int = 200) {
        self.maxPartLength = maxPartLength
        self.maxParts = max(1, maxParts)
        self.compactThreshold = compactThreshold
    }

    /// A piece of the comment, and how many changes it lists (for the count of those left out).
    struct Block {
        var text: String
        var changes = 0
    }

    public func render(_ plan: Plan, title: String = "beamsync plan") -> [String] {
        var head = "\(Self.marker)\n### \(title)\n\nSource: `\(escape(plan.source))`\n\n"
        if plan.hasErrors {
            head += failure(plan.diagnostics, validation: plan.failedValidation)
            return split(head: head, blocks: targetCheckBlocks(plan))
        }
        let s = plan.summary
        head += summaryTable(rows: [("", s)], unchanged: true)
        if !s.hasChanges && !plan.remainingDrift.isEmpty {
            head += "No changes to apply, but \(plan.remainingDrift.count) object(s) were changed outside git (see the warnings).\n\n"
        } else if !s.hasChanges {
            head += "No changes: the database already matches this revision.\n\n"
        }
        var blocks = warningBlocks(plan.warningsOutsideTargetChecks)
        blocks += impactBlocks(plan)
        blocks += changeBlocks(plan.effectiveChanges)
        blocks += unmanagedBlocks(plan)
        blocks += targetCheckBlocks(plan)
        return split(head: head, blocks: blocks)
    }

    /// A pull-request review: what the change does relative to its base, then the plan against the
    /// database (one section when the two are the same), in one comment split into parts when long.
    public func render(review: PullRequestReview, title: String = "beamsync plan") -> [String] {
        var head = "\(Self.marker)\n### \(title)\n\n`\(escape(review.base))` → `\(escape(review.head))`\n\n"
        if !review.signatures.isEmpty {
            head += "Signatures verified: " + review.signatures.map { escape($0) }.joined(separator: "; ") + "\n\n"
        }
        if review.plan.hasErrors || review.changeSet.hasErrors {
            var seen = Set<String>()
            let all = (review.plan.diagnostics + review.changeSet.diagnostics).filter { seen.insert($0.description).inserted }
            head += failure(all, validation: review.plan.failedValidation || review.changeSet.failedValidation)
            return split(head: head, blocks: filesBlocks(review.files) + targetCheckBlocks(review.plan))
        }
        let s = review.changeSet.summary, d = review.plan.summary
        let same = Self.sameChanges(review.changeSet, review.plan)
        head += summaryTable(rows: same ? [("this change (the same against the database)", s)]
                                        : [("this change (vs base)", s), ("against the database", d)], unchanged: false)
        var blocks = warningBlocks(review.plan.warningsOutsideTargetChecks)
        blocks += filesBlocks(review.files)
        if same {
            blocks.append(Block(text: "#### What this change does (the same against the database)\n\n"
                                + (s.hasChanges ? "" : "No changes.\n\n")))
            blocks += changeBlocks(review.changeSet.effectiveChanges)
            blocks += impactBlocks(review.changeSet)
        } else {
            blocks.append(Block(text: "#### What this change does\n\n" + (s.hasChanges ? "" : "No changes relative to the base.\n\n")))
            blocks += changeBlocks(review.changeSet.effectiveChanges)
            blocks += impactBlocks(review.changeSet)
            blocks.append(Block(text: "#### Plan against the database\n\n" + (d.hasChanges ? "" : "No changes: the database already matches.\n\n")))
            blocks += changeBlocks(review.plan.effectiveChanges)
        }
        blocks += unmanagedBlocks(review.plan)
        blocks += targetCheckBlocks(review.plan)
        return split(head: head, blocks: blocks)
    }

    /// Whether two plans change the same objects in the same way (ids and revisions aside).
    static func sameChanges(_ a: Plan, _ b: Plan) -> Bool {
        struct Shape: Hashable {
            var kind: DocumentKind, name: String, action: ChangeAction, transition: DefaultTransition?
            var fields: [FieldChange], after: JSONValue?, before: JSONValue?
        }
        func shapes(_ p: Plan) -> [Shape] {
            p.effectiveChanges.map { c in
                Shape(kind: c.kind, name: c.name, action: c.action, transition: c.defaultTransition, fields: c.fieldChanges,
                      after: c.action == .delete ? nil : c.after, before: c.action == .delete ? c.before : nil)
            }
        }
        let (sa, sb) = (a.summary, b.summary)
        return sa.notDeleted == sb.notDeleted && shapes(a) == shapes(b)
    }

    // MARK: Pieces

    private func summaryTable(rows: [(label: String, summary: PlanSummary)], unchanged: Bool) -> String {
        let notDeleted = rows.contains { $0.summary.notDeleted > 0 }
        var columns = ["create", "change", "delete", "trigger"]
        if notDeleted { columns.append("not deleted (prune off)") }
        if unchanged { columns.append("unchanged") }
        let labelled = rows.contains { !$0.label.isEmpty }
        var text = (labelled ? "| " : "") + "| " + columns.joined(separator: " | ") + " |\n"
        text += (labelled ? "|---" : "") + "|" + columns.map { _ in "---:" }.joined(separator: "|") + "|\n"
        for (label, s) in rows {
            var cells = [s.create, s.update, s.delete, s.trigger]
            if notDeleted { cells.append(s.notDeleted) }
            if unchanged { cells.append(s.unchanged) }
            text += (labelled ? "| \(label) " : "") + "| " + cells.map(String.init).joined(separator: " | ") + " |\n"
        }
        return text + "\n"
    }

    /// Every error with its place and hint, so the comment alone says what to fix.
    private func failure(_ diagnostics: [Diagnostic], validation: Bool) -> String {
        let errors = diagnostics.errors, warnings = diagnostics.warnings
        var text = "**\(validation ? "Validation failed" : "Planning failed")** with \(errors.count) error\(errors.count == 1 ? "" : "s")"
        text += warnings.isEmpty ? ":\n\n" : " and \(warnings.count) warning\(warnings.count == 1 ? "" : "s"):\n\n"
        for d in errors + warnings { text += diagnosticItem(d) }
        return text + "\nNothing can be applied until the errors are fixed.\n"
    }

    private func diagnosticItem(_ d: Diagnostic) -> String {
        var line = "- "
        if let l = d.location { line += "`\(escape(l.description))` " }
        line += d.severity == .error ? "**error**" : "⚠️ warning"
        if !d.path.isEmpty { line += " `\(escape(d.path))`" }
        line += ": \(escape(d.message))\n"
        if let hint = d.hint { line += "  - hint: \(escape(hint))\n" }
        for r in d.related { line += "  - see also `\(escape(r.description))`\n" }
        return line
    }

    private static let listedWarnings = 50
    private static let listedFiles = 200

    private func warningBlocks(_ warnings: [Diagnostic]) -> [Block] {
        guard !warnings.isEmpty else { return [] }
        var text = "#### Warnings\n\n" + warnings.prefix(Self.listedWarnings).map { "- ⚠️ \(escape($0.description))\n" }.joined()
        if warnings.count > Self.listedWarnings {
            text += "- …and \(warnings.count - Self.listedWarnings) more (all of them in `beamsync plan --format json`)\n"
        }
        return [Block(text: text + "\n")]
    }

    private func filesBlocks(_ files: [PullRequestReview.FileChange]) -> [Block] {
        guard !files.isEmpty else { return [] }
        var text = "<details><summary>\(files.count) file\(files.count == 1 ? "" : "s") changed</summary>\n\n"
            + files.prefix(Self.listedFiles).map { "- \($0.kind) `\(escape($0.path))`\n" }.joined()
        if files.count > Self.listedFiles { text += "- …and \(files.count - Self.listedFiles) more\n" }
        return [Block(text: text + "\n</details>\n\n")]
    }

    private func impactBlocks(_ plan: Plan) -> [Block] {
        let impacted = plan.impact.filter(\.changes)
        guard !impacted.isEmpty else { return [] }
        var text = "#### Impact on future executions\n\n| project | default before | default after | changed profiles it uses |\n|---|---|---|---|\n"
        for i in impacted {
            text += "| `\(escape(i.project))` | \(i.defaultBefore.map { "`\(escape($0))`" } ?? "—") | \(i.defaultAfter.map { "`\(escape($0))`" } ?? "—") | \(i.changedReferences.map { "`\(escape($0))`" }.joined(separator: ", ")) |\n"
        }
        return [Block(text: text + "\n")]
    }

    /// Objects in the database that git does not manage (made through the API, say), by kind.
    private func unmanagedBlocks(_ plan: Plan) -> [Block] {
        guard !plan.unmanaged.isEmpty else { return [] }
        var text = "#### Not managed by git\n\nMade through the API or outside beamsync; this plan leaves them as they are "
            + "(a document of the same name applied with `--adopt` takes one over).\n\n"
        for kind in DocumentKind.allCases {
            let names = plan.unmanaged.filter { $0.kind == kind }.map(\.name)
            guard !names.isEmpty else { continue }
            text += "- \(names.count) \(kind.rawValue)\(names.count == 1 ? "" : "s"): "
                + names.prefix(50).map { "`\(escape($0))`" }.joined(separator: ", ") + (names.count > 50 ? ", and \(names.count - 50) more" : "") + "\n"
        }
        return [Block(text: text + "\n")]
    }

    private func targetCheckBlocks(_ plan: Plan) -> [Block] {
        plan.targetChecks.map { [Block(text: targetChecks($0))] } ?? []
    }

    /// One row per checked profile: the result, and for a failure the step, what it found and what to check.
    private func targetChecks(_ reports: [TargetCheckReport]) -> String {
        var text = "#### Target checks\n\n"
        if reports.isEmpty { return text + "No profile is created or changed, so no target was checked.\n\n" }
        text += "| | profile | target | result | time |\n|---|---|---|---|---:|\n"
        for r in reports {
            let symbol: String, result: String
            if let failed = r.firstFailure {
                symbol = "❌"
                result = "failed at <code>\(escape(failed.name))</code>" + (failed.detail.map { ": " + escape($0) } ?? "")
                    + (failed.hint.map { "<br>check: " + escape($0) } ?? "")
            } else if !r.checked {
                symbol = "➖"
                result = "not checked: " + escape(r.steps.first.map { $0.detail ?? $0.description } ?? "no checks ran")
            } else {
                symbol = "✅"
                result = "passed (\(r.steps.filter { $0.outcome == .passed }.count) steps)"
            }
            let time = r.checked ? formatCheckSeconds(r.seconds) : "—"
            text += "| \(symbol) | <code>\(escape(r.profile))</code> | \(r.kind.rawValue) <code>\(escape(r.target))</code> | "
                + "\(result.replacingOccurrences(of: "|", with: "&#124;").replacingOccurrences(of: "\n", with: " ")) | \(time) |\n"
        }
        return text + "\n"
    }

    /// One collapsible block per change, or table rows in chunks past `compactThreshold`.
    private func changeBlocks(_ changes: [ResourceChange]) -> [Block] {
        guard changes.count > compactThreshold else { return changes.map { Block(text: block(for: $0), changes: 1) } }
        var blocks = [Block(text: "\(changes.count) changes, one row each (field details are in `beamsync plan --format json`):\n\n")]
        let header = "| action | kind | name | document |\n|---|---|---|---|\n"
        var start = 0
        while start < changes.count {
            let chunk = changes[start..<min(start + 100, changes.count)]
            blocks.append(Block(text: header + chunk.map(row(for:)).joined() + "\n", changes: chunk.count))
            start += chunk.count
        }
        return blocks
    }

    private func verb(_ c: ResourceChange) -> String {
        switch c.action {
        case .create: "create"
        case .update: c.defaultTransition == .promote ? "update (becomes default)" : c.defaultTransition == .demote ? "update (stops being default)" : "update"
        case .delete: "delete"
        case .trigger: "trigger execution"
        case .noOp: "no change"
        }
    }

    private func row(for c: ResourceChange) -> String {
        "| \(verb(c)) | \(c.kind.rawValue) | `\(escape(c.name))` | \(c.origin.map { "`\(escape($0.location.description))`" } ?? "—") |\n"
    }

    private func block(for c: ResourceChange) -> String {
        var text = "<details><summary><b>\(verb(c))</b> \(c.kind.rawValue) <code>\(escape(c.name))</code>"
        if let o = c.origin { text += " — <code>\(escape(o.location.description))</code>" }
        text += "</summary>\n\n"
        switch c.action {
        case .trigger:
            let preview = ExecutionPreview(c)
            text += "- project: <code>\(escape(preview.project))</code>\n"
            if let p = preview.profile {
                text += "- profile: <code>\(escape(p.name))</code> (\(p.kind.rawValue), <code>\(escape(p.target))</code>), \(p.resolution.phrase)\n"
            } else {
                text += "- profile: \(escape(preview.profileText))\n"
            }
            text += "- graph: <code>\(escape(preview.graph))</code>" + (preview.graphSHA256.map { " (sha256 `\($0.prefix(12))`)" } ?? "") + "\n\n"
            text += "Runs once when this revision is applied. Later edits or deletion of the document never re-run or cancel it.\n\n"
        case .create, .delete:
            let fields = ObjectFields.list(c.action == .create ? c.after : c.before)
            if !fields.isEmpty {
                text += "| field | \(c.action == .create ? "value" : "value (deleted)") |\n|---|---|\n"
                for f in fields { text += "| `\(escape(f.path))` | \(cell(f.value)) |\n" }
                text += "\n"
            }
        default:
            if !c.fieldChanges.isEmpty {
                text += "| field | before | after |\n|---|---|---|\n"
                for f in c.fieldChanges {
                    text += "| `\(escape(f.path))` | \(cell(f.before)) | \(cell(f.after)) |\n"
                }
                text += "\n"
            }
        }
        return text + "</details>\n\n"
    }

    private func cell(_ v: JSONValue?) -> String {
        guard let v else { return "—" }
        var t = v.canonicalString
        if t.count > 200 { t = String(t.prefix(197)) + "..." }
        return "<code>" + escape(t).replacingOccurrences(of: "|", with: "&#124;") + "</code>"
    }

    private func escape(_ s: String) -> String {
        DisplayText.escaped(s).replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Packs blocks into parts under the limit, at most `maxParts`; every part after the first
    /// says which part it is. Blocks that do not fit in the last part are counted, not shown.
    private func split(head: String, blocks: [Block]) -> [String] {
        var parts: [String] = []
        var current = head
        var left = 0
        for (i, b) in blocks.enumerated() {
            // A single block larger than a part is cut; the full plan is in the JSON output.
            let text = b.text.count > maxPartLength - 400
                ? String(b.text.prefix(maxPartLength - 500)) + "\n\n…(truncated; see the JSON plan)\n\n" + (b.text.hasPrefix("<details>") ? "</details>\n\n" : "")
                : b.text
            if current.count + text.count > maxPartLength - 300 && !current.isEmpty && current != head {
                if parts.count + 1 >= maxParts {
                    left = blocks[i...].reduce(0) { $0 + $1.changes }
                    break
                }
                parts.append(current)
                current = ""
            }
            current += text
        }
        if left > 0 {
            current += "\n…\(left) more change\(left == 1 ? " is" : "s are") not listed here (a plan comment has at most \(maxParts) "
                + "part\(maxParts == 1 ? "" : "s")); the full plan is in `beamsync plan --format json`.\n"
        }
        parts.append(current)
        guard parts.count > 1 else { return parts }
        return parts.enumerated().map { i, p in
            i == 0 ? p + "\n_Part 1 of \(parts.count)._\n" : "\(Self.marker)\n_Part \(i + 1) of \(parts.count)._\n\n" + p
        }
    }
}
