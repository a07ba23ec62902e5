import BeamsyncModel
import Foundation
import Testing

/// One escaping function for every rendering (diagnostics, plans, the status page): control and
/// format characters are shown as `\u{...}` so a reviewer sees what is really there.
@Suite("Showing text with control and format characters escaped")
struct DisplayTextTests {
    static let invisible: [Unicode.Scalar] = [
        "\u{202A}", "\u{202B}", "\u{202C}", "\u{202D}", "\u{202E}", "\u{2066}", "\u{2067}", "\u{2068}", "\u{2069}",
        "\u{200B}", "\u{200E}", "\u{200F}", "\u{061C}", "\u{FEFF}", "\u{2028}", "\u{2029}", "\u{00AD}",
        "\u{0}", "\u{7}", "\u{1B}", "\u{7F}", "\u{80}", "\u{85}", "\u{9B}", "\u{E0041}",
    ]

    @Test("bidirectional overrides, zero-width, C0 and C1 characters are shown as \\u{...}")
    func escapesInvisibleCharacters() {
        for s in Self.invisible {
            let escaped = DisplayText.escaped("a\(Character(s))b")
            #expect(escaped == "a\\u{\(String(s.value, radix: 16, uppercase: true))}b", "\(escaped)")
        }
        #expect(DisplayText.escaped("line\nnext\ttab\rret") == "line\\nnext\\ttab\\rret")
    }

    @Test("ordinary text, accents, scripts and emoji are left alone")
    func leavesTextAlone() {
        for s in ["plain ASCII ~!@#$%^&*()", "naïve café", "日本語", "e\u{301}", "😀 👩‍💻 🇦🇺", "back\\slash", ""] {
            #expect(DisplayText.escaped(s) == s)
        }
    }

    @Test("a URL's userinfo is redacted, PEM blocks are not shown")
    func redaction() {
        #expect(DisplayText.redacted("http://admin:pw@host:80/x") == "http://REDACTED@host:80/x")
        #expect(DisplayText.redacted("see https://u@h and ssh://a:b@c/d") == "see https://REDACTED@h and ssh://REDACTED@c/d")
        #expect(DisplayText.redacted("http://host/a@b") == "http://host/a@b")
        #expect(DisplayText.redacted("home_dir 'ops:pw@login.example.org:/x'") == "home_dir 'REDACTED@login.example.org:/x'")
        #expect(DisplayText.redacted("mail first.last@example.org or git@github.com:o/r") == "mail first.last@example.org or git@github.com:o/r")
        let pem = "x -----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY----- y"
        #expect(!DisplayText.redacted(pem).contains("abc"))
    }

    @Test("a diagnostic shows values with their invisible characters escaped, in every field")
    func diagnosticsAreEscaped() throws {
        let (_, d) = decodeProfile(replacing(restProfileYAML, "algo", with: "\"met\\u202Eis\""))
        let e = try #require(d.errors.first { $0.path == "translation.algo" }, "\(d)")
        #expect(!e.description.unicodeScalars.contains("\u{202E}"))
        #expect(!e.message.unicodeScalars.contains("\u{202E}"))
        #expect(e.message.contains("met\\u{202E}is"))
        let located = Diagnostic(code: .readFailure, location: SourceLocation(file: "profiles/a\u{202E}lmy.yaml", line: 1, column: 1),
                                 path: "x\u{1B}", message: "m\u{9B}", hint: "h\u{2066}")
        #expect(located.description == "profiles/a\\u{202E}lmy.yaml:1:1: error: x\\u{1B}: m\\u{9B} (hint: h\\u{2066})")
    }
}
