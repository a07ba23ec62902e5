import BeamsyncModel
import BeamsyncOperations
import BeamsyncStore
import BeamsyncTime
import Foundation

/// The page's long tables: the inventory (one page of it), executions and webhook deliveries.
extension StatusPage {
    // MARK: Inventory

    static func inventory(_ w: inout HTMLWriter, _ page: InventoryPage, _ clock: PageClock) {
        let q = page.query
        w.raw("<h2 id=\"inventory\">Inventory</h2>\n<form class=\"search\" method=\"get\" action=\"/\">")
        w.raw("<input type=\"search\" name=\"q\" placeholder=\"kind, name or file\" maxlength=\"\(InventoryQuery.maxSearchLength)\" value=\"")
        w.text(q.search ?? "")
        w.raw("\"><label><input type=\"checkbox\" name=\"drifted\" value=\"1\"" + (q.driftedOnly ? " checked" : "") + "> drifted only</label>")
        w.raw("<input type=\"hidden\" name=\"per_page\" value=\"\(q.perPage)\"><button type=\"submit\">search</button></form>\n")
        let first = page.total == 0 ? 0 : (q.page - 1) * q.perPage + 1
        let last = min(page.total, q.page * q.perPage)
        w.raw("<p class=\"meta\" id=\"inventory-count\">")
        w.text("\(first)–\(last) of \(page.total) managed object\(page.total == 1 ? "" : "s")")
        if let search = q.search { w.text(" matching “\(search)”") }
        if q.driftedOnly { w.text(", drifted only") }
        w.raw("</p>\n")
        pager(&w, page)
        w.raw("<table class=\"inventory\"><tr><th>kind</th><th>name</th><th>file:line</th><th>revision</th><th>spec hash</th><th>drift</th></tr>\n")
        for row in page.rows {
            let drifted = row.drift != nil
            w.raw("<tr" + (drifted ? " class=\"drifted\"" : "") + " data-kind=\"" + HTMLText.escape(row.kind.rawValue)
                  + "\" data-name=\"" + HTMLText.escape(row.name) + "\" data-drift=\"\(drifted)\">")
            w.cell(row.kind.rawValue)
            w.cell(row.name, class: "mono")
            w.cell(row.path.map { path in row.line.map { "\(path):\($0)" } ?? path }, class: "mono")
            w.cell(row.appliedRevision.map { String($0.prefix(12)) }, class: "mono", title: row.appliedRevision)
            w.cell(String(row.specSHA256.prefix(12)), class: "mono", title: row.specSHA256)
            w.raw("<td>")
            if let d = row.drift {
                w.element("span", "drifted", class: "badge warn")
                if !d.fields.isEmpty { w.text(" " + d.fields.joined(separator: ", ")) }
                w.raw(" <span class=\"dim\">since ")
                clock.time(&w, d.detectedAt)
                w.raw("</span>")
            } else {
                w.text("–")
            }
            w.raw("</td></tr>\n")
        }
        w.raw("</table>\n")
        if page.rows.count > 20 { pager(&w, page) }
    }

    /// First / previous / page n of m / next / last, as plain links.
    private static func pager(_ w: inout HTMLWriter, _ page: InventoryPage) {
        guard page.pageCount > 1 else { return }
        let q = page.query
        func link(_ label: String, _ target: Int) {
            var href = "/?page=\(target)&per_page=\(q.perPage)"
            if let search = q.search { href += "&q=" + HTMLText.queryValue(search) }
            if q.driftedOnly { href += "&drifted=1" }
            w.raw("<a href=\"" + HTMLText.escape(href + "#inventory") + "\">")
            w.text(label)
            w.raw("</a>")
        }
        w.raw("<p class=\"pages\">")
        if q.page > 1 {
            link("« first", 1)
            link("‹ previous", q.page - 1)
        }
        w.element("span", "page \(q.page) of \(page.pageCount)")
        if q.page < page.pageCount {
            link("next ›", q.page + 1)
            link("last »", page.pageCount)
        }
        w.raw("</p>\n")
    }

    // MARK: Executions

    static func executions(_ w: inout HTMLWriter, _ records: [ExecutionRecord], _ status: GitOpsStatus, _ clock: PageClock) {
        w.raw("<h2 id=\"executions\">Executions</h2>\n")
        if status.pendingWithoutRunner {
            w.raw("<p><span class=\"badge warn\">no runner active</span> ")
            w.text("pending executions wait until a runner connects (beamsync run, or beamsync executions create).")
            w.raw("</p>\n")
        }
        if records.isEmpty {
            w.raw("<p class=\"dim\">No executions yet.</p>\n")
            return
        }
        w.raw("""
            <table class="executions"><tr><th>name</th><th>status</th><th>project</th><th>profile (pinned revision)</th>\
            <th>source revision</th><th>backend</th><th>backend ids</th><th>created</th><th>started</th><th>completed</th><th>note</th></tr>

            """)
        for e in records {
            w.raw("<tr data-execution=\"" + HTMLText.escape(e.name) + "\" data-status=\"\(e.status.rawValue)\">")
            w.cell(e.name, class: "mono")
            w.raw("<td>")
            w.element("span", e.status.rawValue, class: "badge " + Tone.of(e.status).rawValue)
            w.raw("</td>")
            w.cell(e.projectModule)
            let profile = e.deploymentProfileSnapshot?["name"]?.stringValue
            w.cell(profile.map { name in e.deploymentProfileRevision.map { "\(name) (revision \($0))" } ?? name }, class: "mono")
            w.cell(e.sourceRevision.map { String($0.prefix(12)) }, class: "mono", title: e.sourceRevision)
            w.cell((e.backend?.rawValue ?? "") + (e.simulated && e.backend != .simulated ? " (simulated)" : ""))
            let ids = [e.daliugeSessionID.map { "DALiuGE session \($0)" }, e.slurmJobID.map { "Slurm job \($0)" },
                       e.remoteSessionDir.map { "dir \($0)" }].compactMap { $0 }
            w.cell(ids.joined(separator: "\n"), class: "mono msg")
            for date in [e.createdAt, e.startedAt, e.completedAt] as [Date?] {
                w.raw("<td>")
                clock.time(&w, date)
                w.raw("</td>")
            }
            var notes: [String] = []
            if e.status == .pending && status.runnersActive == 0 { notes.append("no runner active") }
            if e.cancelRequestedAt != nil && !e.isTerminal { notes.append("cancel requested") }
            if let step = e.step, !e.isTerminal { notes.append("step: \(step)") }
            if let error = e.lastError { notes.append(error) }
            w.cell(notes.joined(separator: "\n"), class: "msg")
            w.raw("</tr>\n")
        }
        w.raw("</table>\n")
    }

    // MARK: Webhooks

    static func deliveries(_ w: inout HTMLWriter, _ deliveries: [WebhookDelivery], _ clock: PageClock) {
        w.raw("<h2 id=\"webhooks\">Webhook deliveries</h2>\n")
        if deliveries.isEmpty {
            w.raw("<p class=\"dim\">None received yet.</p>\n")
            return
        }
        w.raw("<table class=\"webhooks\"><tr><th>received</th><th>provider</th><th>event</th><th>delivery</th><th>result</th><th>HTTP</th><th>message</th></tr>\n")
        for d in deliveries {
            w.raw("<tr data-provider=\"" + HTMLText.escape(d.provider) + "\" data-result=\"" + HTMLText.escape(d.result) + "\"><td>")
            clock.time(&w, d.receivedAt)
            w.raw("</td>")
            w.cell(d.provider)
            w.cell(d.event)
            w.cell(d.delivery, class: "mono")
            w.raw("<td>")
            w.element("span", d.result, class: "badge " + (d.result == "accepted" ? Tone.ok : d.result == "disabled" ? Tone.unknown : Tone.bad).rawValue)
            w.raw("</td>")
            w.cell(String(d.httpStatus))
            w.cell(d.message, class: "msg")
            w.raw("</tr>\n")
        }
        w.raw("</table>\n")
    }
}

/// The colour of a state on the page.
enum Tone: String {
    case ok, bad, warn, info, unknown

    static func of(_ status: ReadyStatus?) -> Tone {
        switch status {
        case .ready?: .ok
        case .stalled?, .stale?: .bad
        case .reconciling?: .info
        case nil: .unknown
        }
    }

    static func of(_ condition: Condition) -> Tone {
        if condition.isHealthy { return .ok }
        switch (condition.type, condition.status) {
        case (.ready, .isFalse): return .bad
        case (.ready, .unknown): return condition.reason == "Stale" ? .bad : .unknown
        case (.drifted, .isTrue): return .warn
        default: return .unknown
        }
    }

    static func of(_ result: SyncRun.Result) -> Tone {
        switch result {
        case .applied: .ok
        case .noOp: .unknown
        case .failed: .bad
        case .superseded: .warn
        }
    }

    static func of(_ status: ExecutionStatus) -> Tone {
        switch status {
        case .completed: .ok
        case .failed, .notSubmitted: .bad
        case .cancelled: .unknown
        case .retrying: .warn
        default: .info
        }
    }
}

/// Times on the page: ISO 8601 UTC in a `<time>` element, with the age or the wait in words.
struct PageClock {
    let now: Date

    func time(_ w: inout HTMLWriter, _ date: Date?) {
        guard let date else {
            w.text("–")
            return
        }
        let iso = UTCTimestamp(date).iso8601()
        w.raw("<time datetime=\"\(iso)\">")
        w.text(iso.replacingOccurrences(of: "T", with: " "))
        w.raw("</time> <span class=\"dim\">")
        w.text(Self.relative(date.timeIntervalSince(now)))
        w.raw("</span>")
    }

    /// `(3 min ago)`, `(in 2 h)`, `(now)`.
    static func relative(_ seconds: Double) -> String {
        let magnitude = abs(seconds)
        if magnitude < 5 { return "(now)" }
        let words: String
        switch magnitude {
        case ..<90: words = "\(Int(magnitude)) s"
        case ..<(90 * 60): words = "\(Int((magnitude / 60).rounded())) min"
        case ..<(36 * 3600): words = "\(Int((magnitude / 3600).rounded())) h"
        default: words = "\(Int((magnitude / 86400).rounded())) d"
        }
        return seconds < 0 ? "(\(words) ago)" : "(in \(words))"
    }
}

/// A repository URL as the page shows it: without a password, and without the user name of an
/// http(s) URL (where it is often an access token). `ssh://git@host` keeps its user.
enum DisplayURL {
    static func text(_ url: String) -> String {
        guard var c = URLComponents(string: url), c.host != nil else { return url }
        if c.password != nil { c.password = "REDACTED" }
        if let scheme = c.scheme?.lowercased(), scheme == "http" || scheme == "https", c.user != nil {
            c.user = "REDACTED"
            c.password = nil
        }
        return c.string ?? url
    }
}
