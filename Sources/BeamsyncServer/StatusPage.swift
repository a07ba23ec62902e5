import BeamsyncOperations
import BeamsyncStore
import BeamsyncTime
import Foundation

/// The status page at `/`: server-rendered HTML with one inline style sheet, no scripts and no
/// external requests; every value is escaped (`HTMLWriter`). Sections: controllers, sources with
/// their conditions and drift, recent sync runs, the inventory (searched and paged in SQL),
/// executions and webhook deliveries. Reloads itself every 30 s (a meta refresh, not a script).
enum StatusPage {
    static let refreshSeconds = 30

    static func html(_ overview: StatusOverview) -> String {
        var w = HTMLWriter()
        let status = overview.status
        let now = status.generatedAt ?? Date()
        let clock = PageClock(now: now)
        w.raw("""
            <!doctype html>
            <html lang="en" dir="ltr"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <meta http-equiv="refresh" content="\(refreshSeconds)">
            <title>beamsync status</title>
            <style>\(StatusPageStyle.css)</style></head>
            <body><main>
            <h1>beamsync status</h1>
            """)
        header(&w, status, clock)
        w.raw("""
            <nav><a href="#sources">sources</a><a href="#runs">sync runs</a><a href="#inventory">inventory</a>\
            <a href="#executions">executions</a><a href="#webhooks">webhooks</a>\
            <a href="/api/v2/gitops/status">status JSON</a><a href="/metrics">metrics</a></nav>
            """)
        controllers(&w, status, clock)
        sources(&w, status, clock)
        syncRuns(&w, status, clock)
        inventory(&w, overview.inventory, clock)
        executions(&w, overview.executions, status, clock)
        deliveries(&w, overview.deliveries, clock)
        w.raw("</main></body></html>\n")
        return w.html
    }

    /// A page that says why the status cannot be shown (the database did not answer).
    static func unavailable(_ reason: String) -> String {
        var w = HTMLWriter(capacity: 2048)
        w.raw("""
            <!doctype html><html lang="en" dir="ltr"><head><meta charset="utf-8">
            <meta http-equiv="refresh" content="\(refreshSeconds)"><title>beamsync status</title>
            <style>\(StatusPageStyle.css)</style></head><body><main><h1>beamsync status</h1>
            <p><span class="badge bad">unavailable</span> 
            """)
        w.text(reason)
        w.raw("</p></main></body></html>\n")
        return w.html
    }

    // MARK: Header and controllers

    private static func header(_ w: inout HTMLWriter, _ s: GitOpsStatus, _ clock: PageClock) {
        w.raw("<p class=\"meta\">generated ")
        clock.time(&w, s.generatedAt)
        w.raw(" · leader: ")
        if let leader = s.leaderIdentity { w.element("code", leader) } else { w.element("span", "none active", class: "badge bad") }
        if let answering = s.leader { w.text(answering ? " (this replica)" : " (not this replica)") }
        w.raw(" · runners active: ")
        let runners = s.runnersActive.map(String.init) ?? "unknown"
        w.element("span", runners, class: "badge " + (s.runnersActive == 0 ? "warn" : "unknown"))
        w.text(" · live version \(s.liveVersion) · managed: \(s.inventory.profiles) profiles, \(s.inventory.projectConfigs) project configs, "
               + "\(s.inventory.executions) execution documents")
        let counts = s.executions.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
        w.text(" · executions: " + (counts.isEmpty ? "none" : counts.joined(separator: ", ")))
        w.raw("</p>\n")
    }

    private static func controllers(_ w: inout HTMLWriter, _ s: GitOpsStatus, _ clock: PageClock) {
        guard !s.controllers.isEmpty else { return }
        w.raw("<table class=\"controllers\"><tr><th>controller replica</th><th>role</th><th>last heartbeat</th><th>started</th><th>poll interval</th></tr>\n")
        for c in s.controllers {
            w.raw("<tr data-controller=\"" + HTMLText.escape(c.identity) + "\">")
            w.cell(c.identity, class: "mono")
            w.raw("<td>")
            if c.stale {
                w.element("span", "stale", class: "badge bad")
            } else {
                w.element("span", c.leader ? "leader" : "standby", class: "badge " + (c.leader ? "ok" : "unknown"))
            }
            w.raw("</td><td>")
            clock.time(&w, c.heartbeatAt)
            w.raw("</td><td>")
            clock.time(&w, c.startedAt)
            w.raw("</td>")
            w.cell(DurationWords.text(.milliseconds(c.pollIntervalMilliseconds)))
            w.raw("</tr>\n")
        }
        w.raw("</table>\n")
    }

    // MARK: Sources

    private static func sources(_ w: inout HTMLWriter, _ s: GitOpsStatus, _ clock: PageClock) {
        w.raw("<h2 id=\"sources\">Sources</h2>\n")
        if s.sources.isEmpty {
            w.raw("<p class=\"dim\">No sources yet: start the controller with <code>beamsync run --repo URL</code>.</p>\n")
            return
        }
        for source in s.sources { self.source(&w, source, clock) }
    }

    private static func source(_ w: inout HTMLWriter, _ source: GitOpsStatus.Source, _ clock: PageClock) {
        let st = source.status
        var classes = ["source"]
        if source.stale { classes.append("stale") }
        if st.status == .stalled { classes.append("stalled") }
        if (source.drift ?? 0) > 0 { classes.append("drifted") }
        w.raw("<section class=\"\(classes.joined(separator: " "))\" id=\"source-\(st.id)\" data-source-id=\"\(st.id)\">\n<h3>")
        let shown = st.status?.rawValue ?? "NotReconciled"
        w.element("span", shown, class: "badge " + Tone.of(st.status).rawValue)
        w.raw(" ")
        w.element("span", DisplayURL.text(st.url), class: "mono")
        w.raw(" <span class=\"dim\">branch ")
        w.element("code", st.branch)
        if !st.path.isEmpty {
            w.raw(" · path ")
            w.element("code", st.path)
        }
        w.raw("</span></h3>\n<dl class=\"facts\">")
        w.raw("<dt>applied</dt><dd>")
        revision(&w, st.lastAppliedRevision, subject: st.lastAppliedSubject, committedAt: st.lastAppliedCommittedAt, clock: clock)
        if let at = st.lastAppliedAt {
            w.raw(" <span class=\"dim\">applied ")
            clock.time(&w, at)
            w.raw("</span>")
        }
        w.raw("</dd><dt>attempted</dt><dd>")
        if st.lastAttemptedRevision == st.lastAppliedRevision && st.failures == 0 {
            w.raw("<span class=\"dim\">same as applied</span>")
        } else {
            revision(&w, st.lastAttemptedRevision, subject: st.lastAttemptedSubject, committedAt: st.lastAttemptedCommittedAt, clock: clock)
        }
        w.raw("</dd><dt>suspended</dt><dd>")
        if st.suspended { w.element("span", "suspended", class: "badge warn") } else { w.text("no") }
        w.raw("</dd><dt>leader</dt><dd>")
        if let by = st.reconciledBy { w.element("code", by) } else { w.text("–") }
        w.raw("</dd><dt>last pass</dt><dd>")
        clock.time(&w, st.lastReconciledAt)
        w.raw("</dd><dt>next poll</dt><dd>")
        if st.suspended {
            w.text("none while suspended")
        } else {
            clock.time(&w, source.nextPollAt)
            if let interval = st.pollIntervalMilliseconds { w.text(" (every \(DurationWords.text(.milliseconds(interval))) ±10 %)") }
        }
        w.raw("</dd>")
        if st.failures > 0 {
            w.raw("<dt>failures</dt><dd>")
            w.text("\(st.failures) in a row; next attempt ")
            clock.time(&w, st.nextAttemptAt)
            w.raw("</dd>")
        }
        w.raw("</dl>\n<table class=\"conditions\"><tr><th>condition</th><th>status</th><th>reason</th><th>message</th><th>last transition</th></tr>\n")
        for c in source.conditions {
            w.raw("<tr data-condition=\"\(c.type.rawValue)\" data-status=\"\(c.status.rawValue)\">")
            w.cell(c.type.rawValue)
            w.raw("<td>")
            w.element("span", c.status.rawValue, class: "badge " + Tone.of(c).rawValue)
            w.raw("</td>")
            w.cell(c.reason, class: "mono nowrap")
            w.cell(c.message, class: "msg")
            w.raw("<td>")
            clock.time(&w, c.lastTransitionTime)
            w.raw("</td></tr>\n")
        }
        w.raw("</table>\n")
        if !source.driftedObjects.isEmpty {
            w.raw("<p>Changed outside git")
            if let n = source.drift, n > source.driftedObjects.count { w.text(" (first \(source.driftedObjects.count) of \(n))") }
            w.raw(":</p><ul class=\"drift\">")
            for d in source.driftedObjects {
                w.raw("<li data-kind=\"" + HTMLText.escape(d.kind.rawValue) + "\" data-name=\"" + HTMLText.escape(d.name) + "\">")
                w.element("code", "\(d.kind.rawValue)/\(d.name)")
                if !d.fields.isEmpty { w.text(" — " + d.fields.joined(separator: ", ")) }
                w.raw(" <span class=\"dim\">since ")
                clock.time(&w, d.detectedAt)
                w.raw("</span></li>")
            }
            w.raw("</ul>\n")
        }
        w.raw("</section>\n")
    }

    /// `0a1b2c3d4e5f` subject · committed time.
    static func revision(_ w: inout HTMLWriter, _ id: String?, subject: String?, committedAt: Date?, clock: PageClock) {
        guard let id else {
            w.text("–")
            return
        }
        w.element("code", String(id.prefix(12)), title: id)
        if let subject {
            w.raw(" ")
            w.text(subject)
        }
        if let committedAt {
            w.raw(" <span class=\"dim\">committed ")
            clock.time(&w, committedAt)
            w.raw("</span>")
        }
    }

    // MARK: Sync runs

    private static func syncRuns(_ w: inout HTMLWriter, _ s: GitOpsStatus, _ clock: PageClock) {
        w.raw("<h2 id=\"runs\">Sync runs</h2>\n")
        let runs = s.sources.flatMap { source in source.history.map { (source.status, $0) } }.sorted { $0.1.startedAt > $1.1.startedAt }
        if runs.isEmpty {
            w.raw("<p class=\"dim\">No runs recorded yet (passes that find nothing changed are not recorded).</p>\n")
            return
        }
        let many = s.sources.count > 1
        w.raw("<table class=\"runs\"><tr><th>started</th>" + (many ? "<th>source</th>" : "")
              + "<th>trigger</th><th>result</th><th>revision</th><th>create</th><th>update</th><th>delete</th><th>trigger</th>"
              + "<th>drift</th><th>duration</th><th>error</th></tr>\n")
        for (source, run) in runs {
            w.raw("<tr class=\"run\" data-result=\"\(run.result.rawValue)\" data-trigger=\"\(run.trigger?.rawValue ?? "")\">")
            w.raw("<td>")
            clock.time(&w, run.startedAt)
            w.raw("</td>")
            if many { w.cell(DisplayURL.text(source.url), class: "mono") }
            w.cell(run.trigger?.rawValue)
            w.raw("<td>")
            w.element("span", run.result.rawValue, class: "badge " + Tone.of(run.result).rawValue)
            w.raw("</td>")
            w.cell(run.revision.map { String($0.prefix(12)) }, class: "mono", title: run.revision)
            for key in ["create", "update", "delete", "trigger", "drift"] {
                w.cell(run.summary?[key]?.intValue.map { String($0) })
            }
            w.cell(run.durationMilliseconds.map(Self.milliseconds))
            w.cell(run.error, class: "msg")
            w.raw("</tr>\n")
        }
        w.raw("</table>\n")
    }

    static func milliseconds(_ ms: Int) -> String {
        ms < 1000 ? "\(ms) ms" : String(format: "%.1f s", Double(ms) / 1000)
    }
}
