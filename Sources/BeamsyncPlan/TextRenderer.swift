import BeamsyncModel

/// Renders a plan for a terminal, in Terraform's shape: one block per change with a symbol
/// (`+` create, `~` update, `-` delete, `▶` trigger), per-field before → after, then impact,
/// warnings and a one-line summary. Colour is the caller's decision (`paint`). Every name, path
/// and value is shown through `DisplayText.escaped`, so control and format characters (which
/// could rewrite the terminal or reorder the line) appear as `\u{...}`.
public struct TextRenderer: Sendable {
    public enum Tone: Sendable { case add, change, remove, trigger, note, dim, bold }
    public var paint: @Sendable (String, Tone) -> String

    public init(paint: @escaping @Sendable (String, Tone) -> String = { text, _ in text }) { self.paint = paint }

    public func render(_ plan: Plan) -> String {
        var out = ""
        let errors = plan.diagnostics.errors
        if !errors.isEmpty {
            out += paint("Planning failed: \(errors.count) error\(errors.count == 1 ? "" : "s")", .remove) + "\n"
            for d in errors { out += "  " + d.description.replacingOccurrences(of: "\n", with: "\n  ") + "\n" }
            // Failed target checks under --require-targets are errors; show what each check found.
            if let checks = plan.targetChecks { out += "\n" + targetChecks(checks) }
            return out
        }
        if let signers = plan.commitSignatures, !signers.isEmpty {
            out += paint("Commit signatures verified:", .bold) + "\n" + signers.map { "  \($0)\n" }.joined() + "\n"
        }
        let changes = plan.effectiveChanges
        let drifted = plan.remainingDrift.count
        if changes.isEmpty && drifted > 0 {
            out += paint("No changes to apply,", .bold) + " but \(drifted) object\(drifted == 1 ? " was" : "s were") changed outside git"
                + " (see the warnings); the database does not match \(shown(plan.source)).\n"
        } else if changes.isEmpty {
            out += paint("No changes.", .bold) + " The database matches \(shown(plan.source)).\n"
        } else {
            out += "beamsync will make these changes (source: \(shown(plan.source))):\n\n"
            for c in changes { out += block(for: c) }
        }
        let impacted = plan.impact.filter(\.changes)
        if !impacted.isEmpty {
            out += "\n" + paint("Impact on future executions:", .bold) + "\n"
            for i in impacted {
                if i.defaultBefore != i.defaultAfter {
                    out += "  project \(shown(i.project)): default profile \(i.defaultBefore.map(shown) ?? "(none)") → \(i.defaultAfter.map(shown) ?? "(none)")\n"
                }
                if !i.changedReferences.isEmpty {
                    out += "  project \(shown(i.project)): uses changed profile\(i.changedReferences.count == 1 ? "" : "s") \(i.changedReferences.map(shown).joined(separator: ", "))\n"
                }
            }
        }
        if let checks = plan.targetChecks { out += "\n" + targetChecks(checks) }
        if !plan.unmanaged.isEmpty {
            out += "\n" + paint("Not managed by git", .bold) + " (made through the API or outside beamsync; left as they are):\n"
            for kind in DocumentKind.allCases {
                let names = plan.unmanaged.filter { $0.kind == kind }.map(\.name)
                guard !names.isEmpty else { continue }
                let listed = names.prefix(20).map(shown).joined(separator: ", ") + (names.count > 20 ? ", and \(names.count - 20) more" : "")
                out += "  \(names.count) \(kind.rawValue)\(names.count == 1 ? "" : "s"): \(listed)\n"
            }
            out += "  A document of the same name applied with --adopt takes one over.\n"
        }
        let warnings = plan.warningsOutsideTargetChecks
        if !warnings.isEmpty {
            out += "\n" + paint("Warnings:", .note) + "\n"
            for w in warnings { out += "  " + w.description.replacingOccurrences(of: "\n", with: "\n  ") + "\n" }
        }
        out += "\n" + paint("Plan:", .bold) + " " + Self.summaryLine(plan.summary) + ".\n"
        return out
    }

    /// The plan's target checks, one line per profile (what failed and what to check below it).
    public func targetChecks(_ reports: [TargetCheckReport]) -> String {
        var out = paint("Target checks:", .bold) + "\n"
        if reports.isEmpty { return out + "  no profile is created or changed, so no target was checked\n" }
        for r in reports {
            let name = "profile \"\(r.profile)\" (\(r.kind.rawValue) \(r.target))"
            if let failed = r.firstFailure {
                out += "  " + paint("✗", .remove) + " \(name): failed at \(failed.name) after \(formatCheckSeconds(r.seconds))"
                out += (failed.detail.map { ": \($0)" } ?? "") + "\n"
                if let hint = failed.hint { out += "      check: \(hint)\n" }
            } else if !r.checked {
                let why = r.steps.first.map { $0.detail ?? $0.description } ?? "no checks ran"
                out += "  " + paint("-", .dim) + " \(name): not checked: \(why)\n"
            } else {
                out += "  " + paint("✓", .add) + " \(name): \(r.steps.filter { $0.outcome == .passed }.count) steps passed in \(formatCheckSeconds(r.seconds))\n"
            }
        }
        return out
    }

    /// One target check in full (`dim ping`, `slurm ping`): every step with its time, what it
    /// found, and for the failed step what to check.
    public func targetCheck(_ r: TargetCheckReport) -> String {
        var out = paint("\(r.kind.command) \(r.profile)", .bold) + " → \(r.target)\n"
        let width = r.steps.map(\.name.count).max() ?? 0
        for step in r.steps {
            let (symbol, tone): (String, Tone) = switch step.outcome {
            case .passed: ("✓", .add)
            case .failed: ("✗", .remove)
            case .skipped: ("-", .dim)
            }
            let name = step.name.padded(to: width)
            let time = step.outcome == .skipped ? "skipped" : formatCheckSeconds(step.seconds)
            out += "  " + paint(symbol, tone) + " \(name)  \(time.padded(to: 8))  \(step.description)\n"
            let indent = "    " + String(repeating: " ", count: width + 12)
            if let detail = step.detail { out += indent + (step.outcome == .skipped ? paint(detail, .dim) : detail) + "\n" }
            if step.outcome == .failed, let hint = step.hint { out += indent + "check: \(hint)\n" }
        }
        if let failed = r.firstFailure {
            out += paint("✗ failed", .remove) + " at step \(failed.name) after \(formatCheckSeconds(r.seconds))\n"
        } else if !r.checked {
            out += paint("- not checked", .dim) + "\n"
        } else {
            out += paint("✓ passed", .add) + ": \(r.steps.count) steps in \(formatCheckSeconds(r.seconds))\n"
        }
        return out
    }

    /// `1 to create, 0 to change, 0 to delete, 0 executions to trigger; 1 not deleted (prune off); 3 unchanged`
    public static func summaryLine(_ s: PlanSummary) -> String {
        var line = "\(s.create) to create, \(s.update) to change, \(s.delete) to delete, \(s.trigger) execution\(s.trigger == 1 ? "" : "s") to trigger"
        if s.notDeleted > 0 { line += "; \(s.notDeleted) not deleted (prune off)" }
        if s.unchanged > 0 { line += "; \(s.unchanged) unchanged" }
        return line
    }

    private func block(for c: ResourceChange) -> String {
        let (symbol, tone): (String, Tone) = switch c.action {
        case .create: ("+", .add)
        case .update: ("~", .change)
        case .delete: ("-", .remove)
        case .trigger: ("▶", .trigger)
        case .noOp: (" ", .dim)
        }
        var notes: [String] = []
        if let t = c.defaultTransition { notes.append(t == .promote ? "becomes the default" : "stops being the default") }
        switch c.reason {
        case .adopted: notes.append("adopted from outside git")
        case .driftHealed: notes.append("reverts a change made outside git")
        case .pruned: notes.append("removed from git, prune is on")
        default: break
        }
        var line = "  " + paint(symbol, tone) + " " + paint("\(c.kind.rawValue) \"\(shown(c.name))\"", .bold)
        if !notes.isEmpty { line += " (" + notes.joined(separator: "; ") + ")" }
        if let o = c.origin { line += "  " + paint(shown(o.location.description), .dim) }
        var out = line + "\n"
        switch c.action {
        case .trigger:
            let preview = ExecutionPreview(c)
            out += "      project: \(preview.project)\n"
            out += "      profile: \(preview.profileText)\n"
            out += "      graph: \(preview.graphText)\n"
            out += "      runs once now; later edits or deletion of the document never re-run or cancel it\n"
        case .create:
            for f in ObjectFields.list(c.after) { out += "      " + paint("+", .add) + " \(f.path): \(show(f.value))\n" }
        case .delete:
            for f in ObjectFields.list(c.before) { out += "      " + paint("-", .remove) + " \(f.path): \(show(f.value))\n" }
        default:
            for f in c.fieldChanges {
                out += "      " + paint("~", .change) + " \(shown(f.path)): \(show(f.before)) → \(show(f.after))\n"
            }
        }
        return out
    }

    private func show(_ v: JSONValue?) -> String {
        guard let v else { return "(absent)" }
        let text = DisplayText.escaped(v.canonicalString)
        return text.count > 120 ? String(text.prefix(117)) + "..." : text
    }

    private func shown(_ s: String) -> String { DisplayText.escaped(s) }
}

extension String {
    /// Left-aligned in a column of `width` characters.
    func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
