import BeamsyncModel

/// The transport a profile asks for: plain http to the Translator Manager or the DIM, and TLS
/// verification turned off. `severity` is the environment's (errors in production).
enum ProfileTransportAudit {
    static func findings(_ profile: DeploymentProfile, severity: AuditFinding.Severity) -> [AuditFinding] {
        var findings: [AuditFinding] = []
        let name = profile.name
        func add(_ rule: AuditRule, _ field: String, _ problem: String, _ fix: String) {
            findings.append(AuditFinding(severity, rule, subject: "profile \(name): \(field)", problem: problem, fix: fix, profiles: [name]))
        }
        if let url = profile.translation.tmURL?.trimmingCharacters(in: .whitespaces), url.lowercased().hasPrefix("http://") {
            add(.plainHTTPTranslator, "translation.tm_url",
                "the Translator Manager is reached over plain http (\(DisplayURL.withoutUserInfo(url))), so graphs travel unencrypted and unauthenticated",
                "serve the Translator Manager over TLS (a proxy in front of `dlg tm` will do) and use an https:// URL")
        }
        switch profile.deployment {
        case .restRemote(let rest):
            if !rest.useHTTPS {
                let port = rest.deployPort.map { ":\($0)" } ?? ""
                add(.plainHTTPDIM, "deployment.use_https",
                    "the DIM is reached over plain http (http://\(rest.deployHost)\(port)), so deploys and status travel unencrypted and unauthenticated",
                    "serve the DIM over TLS and set deployment.use_https: true")
            }
            if !rest.verifySSL {
                add(.tlsVerificationOff, "deployment.verify_ssl",
                    "TLS certificates of the Translator Manager and the DIM are not verified, so anyone on the path can pose as them",
                    "set deployment.verify_ssl: true; give beamsync a private CA with BEAMSYNC_CA_FILE")
            }
        case .slurmRemote(let slurm):
            if slurm.verifySSL == false {
                add(.tlsVerificationOff, "deployment.verify_ssl",
                    "the Translator Manager's TLS certificate is not verified, so anyone on the path can pose as it",
                    "set deployment.verify_ssl: true (or remove it); give beamsync a private CA with BEAMSYNC_CA_FILE")
            }
        }
        return findings
    }
}
