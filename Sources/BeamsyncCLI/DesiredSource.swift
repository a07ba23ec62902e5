import ArgumentParser
import BeamsyncModel
import Foundation

/// Where the desired state comes from.
struct SourceOptions: ParsableArguments {
    @Option(help: "Repository directory to read (uncommitted edits included).")
    var dir: String = "."

    /// Loads the directory; profiles already in the database satisfy references.
    func load(externalProfiles: [ExternalProfile]) -> (DesiredState?, [Diagnostic], source: String) {
        let tree = DirectoryTree.read(root: dir)
        var options = LoadOptions()
        options.externalProfiles = externalProfiles
        let result = DesiredStateLoader.load(files: tree.files, options: options)
        let prefix = dir == "." ? "" : (dir.hasSuffix("/") ? dir : dir + "/")
        let diagnostics = (tree.diagnostics + result.diagnostics).map { $0.prefixingFiles(with: prefix) }
        return (diagnostics.hasErrors ? nil : result.state, diagnostics, dir)
    }
}

/// Prints diagnostics to stderr the way `validate` does.
func reportLoadFailure(_ diagnostics: [Diagnostic]) {
    let report = ValidationReport(files: Array(Set(diagnostics.compactMap { $0.location?.file })).sorted(), documents: 0, diagnostics: diagnostics)
    StandardError.write(report.text(style: TerminalStyle.detect(fileDescriptor: STDERR_FILENO)))
}
