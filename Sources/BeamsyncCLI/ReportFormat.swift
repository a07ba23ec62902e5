import ArgumentParser

/// `--format` of commands that render a report as text or JSON only (no Markdown form).
enum ReportFormat: String, CaseIterable, ExpressibleByArgument {
    case text
    case json
}
