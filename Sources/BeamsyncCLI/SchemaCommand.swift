import ArgumentParser
import BeamsyncModel

/// `beamsync schema`: the JSON Schema of profile documents, for editors with a YAML language server.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema for DeploymentProfile documents.",
        discussion: """
            Save it next to your repository and add `# yaml-language-server: $schema=<path>` as the \
            first line of each profile so editors validate while you type.
            """
    )

    func run() throws {
        print(ProfileSchema.document.canonicalStringPretty)
    }
}
