import BeamsyncModel

/// Renders a plan for a terminal, in Terraform's shape: one block per change with a symbol
/// (`+` create, `~` update, `-` delete, `▶` trigger), per-field before → after, then impact,
/// warnings and a one-line summary. Colour is the caller's decision (`paint`).
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
            return out
        }
        let changes = plan.effectiveChanges
        let drifted = plan.remainingDrift.count
        if changes.isEmpty && drifted > 0 {
            out += paint("No changes to apply,", .bold) + " but \(drifted) object\(drifted == 1 ? " was" : "s were") changed outside git"
                + " (see the warnings); the database does not match \(plan.source).\n"
        } else if changes.isEmpty {
            out += paint("No changes.", .bold) + " The database matches \(plan.source).\n"
        } else {
            out += "beamsync will make these changes (source: \(plan.source)):\n\n"
            for c in changes { out += block(for: c) }
        }
        let impacted = plan.impact.filter(\.changes)
        if !impacted.isEmpty {
            out += "\n" + paint("Impact on future executions:", .bold) + "\n"
            for i in impacted {
                if i.defaultBefore != i.defaultAfter {
                    out += "  project \(i.project): default profile \(i.defaultBefore ?? "(none)") → \(i.defaultAfter ?? "(none)")\n"
                }
                if !i.changedReferences.isEmpty {
                    out += "  project \(i.project): uses changed profile\(i.changedReferences.count == 1 ? "" : "s") \(i.changedReferences.joined(separator: ", "))\n"
                }
            }
        }
        let warnings = plan.diagnostics.warnings
        if !warnings.isEmpty {
            out += "\n" + paint("Warnings:", .note) + "\n"
            for w in warnings { out += "  " + w.description.replacingOccurrences(of: "\n", with: "\n  ") + "\n" }
        }
        let s = plan.summary
        out += "\n" + paint("Plan:", .bold) + " \(s.create) to create, \(s.update) to change, \(s.delete) to delete, \(s.trigger) execution\(s.trigger == 1 ? "" : "s") to trigger"
        if s.unchanged > 0 { out += " (\(s.unchanged) unchanged)" }
        out += ".\n"
        return out
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
        var line = "  " + paint(symbol, tone) + " " + paint("\(c.kind.rawValue) \"\(c.name)\"", .bold)
        if !notes.isEmpty { line += " (" + notes.joined(separator: "; ") + ")" }
        if let o = c.origin { line += "  " + paint(o.location.description, .dim) }
        var out = line + "\n"
        switch c.action {
        case .trigger:
            out += "      runs once now; later edits or deletion of the document never re-run or cancel it\n"
        case .create, .delete:
            break
        default:
            for f in c.fieldChanges {
                out += "      " + paint("~", .change) + " \(f.path): \(show(f.before)) → \(show(f.after))\n"
            }
        }
        return out
    }

    private func show(_ v: JSONValue?) -> String {
        guard let v else { return "(absent)" }
        let text = v.canonicalString
        return text.count > 120 ? String(text.prefix(117)) + "..." : text
    }
}
