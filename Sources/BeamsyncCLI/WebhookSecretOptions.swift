import ArgumentParser

/// The webhook secret files `run` serves with; `security check` takes the same flags to check them.
struct WebhookSecretOptions: ParsableArguments {
    @Option(help: "File holding the GitHub webhook secret (enables /hooks/github).")
    var githubSecretFile: String?
    @Option(help: "File holding the GitLab webhook token (enables /hooks/gitlab).")
    var gitlabTokenFile: String?
    @Option(help: "File holding the generic webhook HMAC secret (enables /hooks/generic).")
    var webhookSecretFile: String?
}
