import BeamsyncModel
import Foundation

/// Text made safe for HTML: element content and double- or single-quoted attribute values.
///
/// `&`, `<`, `>`, `"` and `'` become character references. Control characters, format characters
/// (bidirectional overrides and isolates, zero-width spaces, the byte order mark) and line or
/// paragraph separators are shown as `\u{XXXX}` instead of being passed on, so a value can never
/// reorder or hide what the page shows next to it. Line feeds and tabs are kept (message cells
/// wrap them); a carriage return is shown as `\r`.
///
/// Which characters are hidden is `DisplayText.isHidden`, the rule the CLI and the plan renderers
/// use, so the page and the terminal show a value identically (the page keeps line feeds and tabs,
/// which its message cells wrap).
enum HTMLText {
    static func escape(_ s: String) -> String {
        guard needsWork(s) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 16)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            case "\r": out += "\\r"
            default:
                if DisplayText.isHidden(scalar) {
                    out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// Printable ASCII without markup characters (nearly every value) is decided by a byte scan.
    private static func needsWork(_ s: String) -> Bool {
        for b in s.utf8 {
            switch b {
            case 0x26, 0x3C, 0x3E, 0x22, 0x27, 0x7F: return true
            case ..<0x20: return true
            case 0x80...: return true
            default: continue
            }
        }
        return false
    }

    /// A query-string value: everything but unreserved characters percent-encoded (then escaped
    /// for the attribute it goes into by the caller).
    static func queryValue(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

/// Builds the page as one string; every value goes through `text` or `attribute`.
struct HTMLWriter {
    private(set) var html = ""

    init(capacity: Int = 64 * 1024) { html.reserveCapacity(capacity) }

    /// Markup written by the page itself (never a value).
    mutating func raw(_ markup: String) { html += markup }

    /// A value as element content.
    mutating func text(_ value: String) { html += HTMLText.escape(value) }

    /// `<tag class="...">value</tag>`.
    mutating func element(_ tag: String, _ value: String, class cls: String? = nil, title: String? = nil) {
        html += "<" + tag
        if let cls { html += " class=\"" + cls + "\"" }
        if let title { html += " title=\"" + HTMLText.escape(title) + "\"" }
        html += ">" + HTMLText.escape(value) + "</" + tag + ">"
    }

    /// `<td>value</td>` (an empty value shows a dash).
    mutating func cell(_ value: String?, class cls: String? = nil, title: String? = nil) {
        element("td", value.flatMap { $0.isEmpty ? nil : $0 } ?? "–", class: cls, title: title)
    }
}
