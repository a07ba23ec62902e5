import Crypto
import Foundation

/// The page's only style sheet, inline, and the Content-Security-Policy that allows exactly it:
/// no scripts, no external requests, no other styles (a value smuggled into the page could not
/// add any even if escaping failed).
enum StatusPageStyle {
    static let css = """
        :root{--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;--warn:#9a6700;--warn-bg:#fff8c5;\
        --info:#0969da;--info-bg:#ddf4ff;--dim:#57606a;--line:#d0d7de}
        *{box-sizing:border-box}
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#fff;margin:0}
        main{max-width:1240px;margin:0 auto;padding:16px 20px 40px}
        h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
        h3{font-size:15px;margin:0 0 6px;overflow-wrap:anywhere}
        nav a{margin-right:14px}a{color:var(--info)}
        .meta{color:var(--dim);margin:0 0 8px}
        table{border-collapse:collapse;width:100%;margin:6px 0}
        th,td{text-align:left;vertical-align:top;padding:4px 8px;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
        th{background:#f6f8fa;font-weight:600;white-space:nowrap}
        code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
        .msg{white-space:pre-wrap}
        .dim{color:var(--dim)}.nowrap{white-space:nowrap;overflow-wrap:normal}
        .badge{display:inline-block;padding:0 7px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap;border:1px solid}
        .ok{color:var(--ok);background:var(--ok-bg);border-color:var(--ok)}
        .bad{color:var(--bad);background:var(--bad-bg);border-color:var(--bad)}
        .warn{color:var(--warn);background:var(--warn-bg);border-color:var(--warn)}
        .info{color:var(--info);background:var(--info-bg);border-color:var(--info)}
        .unknown{color:var(--dim);background:#f6f8fa;border-color:var(--line)}
        .source{border:1px solid var(--line);border-radius:6px;padding:10px 14px;margin:10px 0}
        .source.stale,.source.stalled{border-left:5px solid var(--bad)}.source.drifted{border-left:5px solid var(--warn)}
        dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0}
        dl.facts dt{color:var(--dim)}dl.facts dd{margin:0;overflow-wrap:anywhere}
        tr.drifted td{background:var(--warn-bg)}
        form.search{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin:6px 0}
        form.search input[type=search]{width:320px;padding:3px 6px}
        .pages{margin:6px 0}.pages a,.pages span{margin-right:10px}
        """

    /// `sha256-...` of the style element's content, for the policy.
    static let hash: String = "sha256-" + Data(SHA256.hash(data: Data(css.utf8))).base64EncodedString()

    static let contentSecurityPolicy =
        "default-src 'none'; style-src '\(hash)'; img-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}
