import BeamsyncModel

/// Renders a plan as a pull-request comment: a summary table first, each change in a collapsible
/// block, then impact and warnings. Long plans are split into numbered parts that each fit a
/// GitHub comment (65,536 characters), cut only between blocks.
public struct MarkdownRenderer: Sendable {
    /// Marker the CI workflow uses to find and update its own comment.
    public static let marker = "<!-- beamsync-plan -->"
    public var maxPartLength: Int

    public init(maxPartLength: Int = 65_000) { self.maxPartLength = maxPartLength }

    public func render(_ plan: Plan, title: String = "beamsync plan") -> [String] {
        var head = "\(Self.marker)\n### \(title)\n\n"
        head += "Source: `\(plan.source)`\n\n"
        let errors = plan.diagnostics.errors
        if !errors.isEmpty {
            head += "**Planning failed** with \(errors.count) error\(errors.count == 1 ? "" : "s"):\n\n"
            for d in errors { head += "- \(escape(d.description))\n" }
            return split(head: head, blocks: [])
        }
        let s = plan.summary
        head += "| create | change | delete | trigger | unchanged |\n|---:|---:|---:|---:|---:|\n"
        head += "| \(s.create) | \(s.update) | \(s.delete) | \(s.trigger) | \(s.unchanged) |\n\n"
        if !s.hasChanges && !plan.remainingDrift.isEmpty {
            head += "No changes to apply, but \(plan.remainingDrift.count) object(s) were changed outside git (see the warnings).\n"
        } else if !s.hasChanges {
            head += "No changes: the database already matches this revision.\n"
        }

        var blocks: [String] = []
        for c in plan.effectiveChanges { blocks.append(block(for: c)) }
        blocks += impactBlocks(plan)
        let warnings = plan.diagnostics.warnings
        if !warnings.isEmpty {
            blocks.append("#### Warnings\n\n" + warnings.map { "- ⚠️ \(escape($0.description))\n" }.joined() + "\n")
        }
        return split(head: head, blocks: blocks)
    }

    /// A pull-request review: what the change does relative to its base, then the plan against the
    /// database, in one comment (split into parts when long).
    public func render(review: PullRequestReview, title: String = "beamsync plan") -> [String] {
        var head = "\(Self.marker)\n### \(title)\n\n`\(review.base)` → `\(review.head)`\n\n"
        let errors = review.plan.diagnostics.errors + review.changeSet.diagnostics.errors
        if !errors.isEmpty {
            head += "**Planning failed** with \(errors.count) error\(errors.count == 1 ? "" : "s"):\n\n"
            for d in errors { head += "- \(escape(d.description))\n" }
            return split(head: head, blocks: [])
        }
        let s = review.changeSet.summary, d = review.plan.summary
        head += "| | create | change | delete | trigger |\n|---|---:|---:|---:|---:|\n"
        head += "| this change (vs base) | \(s.create) | \(s.update) | \(s.delete) | \(s.trigger) |\n"
        head += "| against the database | \(d.create) | \(d.update) | \(d.delete) | \(d.trigger) |\n\n"
        var blocks: [String] = []
        if !review.files.isEmpty {
            blocks.append("<details><summary>\(review.files.count) file\(review.files.count == 1 ? "" : "s") changed</summary>\n\n"
                + review.files.map { "- \($0.kind) `\(escape($0.path))`\n" }.joined() + "\n</details>\n\n")
        }
        blocks.append("#### What this change does\n\n")
        blocks += review.changeSet.effectiveChanges.map(block(for:))
        blocks += impactBlocks(review.changeSet)
        blocks.append("#### Plan against the database\n\n" + (d.hasChanges ? "" : "No changes: the database already matches.\n\n"))
        blocks += review.plan.effectiveChanges.map(block(for:))
        let warnings = review.plan.diagnostics.warnings
        if !warnings.isEmpty {
            blocks.append("#### Warnings\n\n" + warnings.map { "- ⚠️ \(escape($0.description))\n" }.joined() + "\n")
        }
        return split(head: head, blocks: blocks)
    }

    private func impactBlocks(_ plan: Plan) -> [String] {
        let impacted = plan.impact.filter(\.changes)
        guard !impacted.isEmpty else { return [] }
        var text = "#### Impact on future executions\n\n| project | default before | default after | changed profiles it uses |\n|---|---|---|---|\n"
        for i in impacted {
            text += "| `\(escape(i.project))` | \(i.defaultBefore.map { "`\($0)`" } ?? "—") | \(i.defaultAfter.map { "`\($0)`" } ?? "—") | \(i.changedReferences.map { "`\($0)`" }.joined(separator: ", ")) |\n"
        }
        return [text + "\n"]
    }

    private func block(for c: ResourceChange) -> String {
        let verb = switch c.action {
        case .create: "create"
        case .update: c.defaultTransition == .promote ? "update (becomes default)" : c.defaultTransition == .demote ? "update (stops being default)" : "update"
        case .delete: "delete"
        case .trigger: "trigger execution"
        case .noOp: "no change"
        }
        var text = "<details><summary><b>\(verb)</b> \(c.kind.rawValue) <code>\(escape(c.name))</code>"
        if let o = c.origin { text += " — <code>\(escape(o.location.description))</code>" }
        text += "</summary>\n\n"
        switch c.action {
        case .trigger:
            text += "Runs once when this revision is applied. Later edits or deletion of the document never re-run or cancel it.\n\n"
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
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Packs blocks into parts under the limit; every part after the first says which part it is.
    private func split(head: String, blocks: [String]) -> [String] {
        var parts: [String] = []
        var current = head
        for b in blocks {
            if current.count + b.count > maxPartLength - 200 && current != head {
                parts.append(current)
                current = ""
            }
            // A single block larger than a part is cut; the full plan is in the JSON output.
            current += b.count > maxPartLength - 400 ? String(b.prefix(maxPartLength - 500)) + "\n\n…(truncated; see the JSON plan)\n\n</details>\n\n" : b
        }
        parts.append(current)
        guard parts.count > 1 else { return parts }
        return parts.enumerated().map { i, p in
            i == 0 ? p + "\n_Part 1 of \(parts.count)._\n" : "\(Self.marker)\n_Part \(i + 1) of \(parts.count)._\n\n" + p
        }
    }
}
