import CPostgres

/// A libpq connection string (`key=value ...` or a `postgresql://` URI) as libpq itself parses
/// it (`PQconninfoParse`), for checks that must not connect. It keeps only what the checks ask
/// about, never the password itself.
public struct PGConnInfo: Sendable, Equatable {
    /// Whether the string carries a password (`password=...`, `user:password@` or `?password=`).
    public let setsPassword: Bool
    /// The `passfile` it names, if any.
    public let passfile: String?

    /// nil when libpq cannot parse `conninfo` (its message is dropped: it may quote the string).
    public init?(_ conninfo: String) {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            if let error { PQfreemem(error) }
            return nil
        }
        defer { PQconninfoFree(options) }
        var password = false
        var passfile: String?
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val, value.pointee != 0 {
                switch String(cString: keyword) {
                case "password": password = true
                case "passfile": passfile = String(cString: value)
                default: break
                }
            }
            option += 1
        }
        setsPassword = password
        self.passfile = passfile
    }
}
