import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Debian's `chromium` in headless mode: the DOM after a page has loaded, and screenshots.
/// Chromium cannot add request headers from its command line; a page behind authentication is
/// loaded through a `HeaderProxy` that adds them.
public struct HeadlessChromium: Sendable {
    public let executable: String

    /// The browser, or nil when it is not installed (`scripts/test.sh` installs `chromium`).
    public static func locate() -> HeadlessChromium? {
        for path in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] where FileManager.default.isExecutableFile(atPath: path) {
            return HeadlessChromium(executable: path)
        }
        return nil
    }

    /// The serialised DOM of `url` after it loaded.
    public func dumpDOM(_ url: String, width: Int = 1280, height: Int = 2000) throws -> String {
        let result = try run(["--dump-dom", "--window-size=\(width),\(height)", url])
        guard result.status == 0, !result.stdout.isEmpty else {
            throw ChromiumError(message: "chromium --dump-dom \(url) exited \(result.status): \(result.stderr.suffix(2000))")
        }
        return result.stdout
    }

    /// A PNG of `url` at `width` × `height` pixels, written to `path`.
    public func screenshot(_ url: String, to path: String, width: Int = 1280, height: Int = 2400) throws {
        try? FileManager.default.removeItem(atPath: path)
        let result = try run(["--screenshot=\(path)", "--hide-scrollbars", "--window-size=\(width),\(height)", url])
        guard result.status == 0, FileManager.default.fileExists(atPath: path) else {
            throw ChromiumError(message: "chromium --screenshot \(url) exited \(result.status): \(result.stderr.suffix(2000))")
        }
    }

    /// Runs one headless browser with a throw-away profile; killed after `timeout` seconds.
    private func run(_ arguments: [String], timeout: Double = 90) throws -> (status: Int32, stdout: String, stderr: String) {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        var flags = ["--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                     "--disable-background-networking", "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=\(profile.path)"]
        // Chromium's sandbox refuses to run as root (CI machines and containers often are).
        if getuid() == 0 { flags.append("--no-sandbox") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = flags + arguments
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = profile.path
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let killer = DispatchWorkItem { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        // Both pipes are drained at once, so a chatty stderr cannot block the browser.
        let group = DispatchGroup()
        let stdout = ChromiumOutput(), stderr = ChromiumOutput()
        for (pipe, sink) in [(out, stdout), (err, stderr)] {
            group.enter()
            DispatchQueue.global().async {
                sink.data = pipe.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
        }
        group.wait()
        p.waitUntilExit()
        killer.cancel()
        return (p.terminationStatus, String(decoding: stdout.data, as: UTF8.self), String(decoding: stderr.data, as: UTF8.self))
    }
}

private final class ChromiumOutput: @unchecked Sendable {
    var data = Data()
}

public struct ChromiumError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A loopback reverse proxy that adds request headers (an `Authorization: Bearer …` token, for
/// example) before passing each request to `upstream`, for clients that cannot add them
/// themselves, like a headless browser. Answers are passed back with their status, content type
/// and security headers. Requests go upstream with the curl CLI.
public final class HeaderProxy: @unchecked Sendable {
    public let upstream: String
    public let headers: [String: String]
    private var server: LoopbackServer!

    public init(upstream: String, headers: [String: String]) throws {
        self.upstream = upstream
        self.headers = headers
        server = try LoopbackServer { [upstream, headers] request in
            Self.forward(request, upstream: upstream, headers: headers)
        }
    }

    public var baseURL: String { server.baseURL }
    /// The requests the proxy passed on (method and path).
    public var forwarded: [String] { server.requests.map { "\($0.method) \($0.path)" } }

    public func stop() { server.stop() }

    private static func forward(_ request: LoopbackServer.Request, upstream: String, headers: [String: String]) -> LoopbackServer.Response {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-proxy-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let head = dir.appendingPathComponent("head"), body = dir.appendingPathComponent("body")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "-m", "30", "-X", request.method, "-D", head.path, "-o", body.path]
            + headers.flatMap { ["-H", "\($0.key): \($0.value)"] } + [upstream + request.path]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return .text(502, "proxy: cannot run curl") }
        p.waitUntilExit()
        guard p.terminationStatus == 0, let headText = try? String(contentsOf: head, encoding: .utf8) else {
            return .text(502, "proxy: upstream \(upstream) did not answer")
        }
        let lines = headText.components(separatedBy: "\r\n")
        let status = lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 502
        let kept: Set = ["content-type", "content-security-policy", "x-content-type-options", "cache-control", "referrer-policy",
                         "x-frame-options", "location"]
        var passed: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            if kept.contains(name.lowercased()) {
                passed.append((name, line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
        }
        return LoopbackServer.Response(status: status, headers: passed, body: Array((try? Data(contentsOf: body)) ?? Data()))
    }
}
