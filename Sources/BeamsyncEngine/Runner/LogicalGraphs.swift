import BeamsyncModel
import BeamsyncStore

/// Why a step cannot go on: what to say, and whether waiting may fix it (the step is retried).
struct StepProblem: Error {
    var message: String
    var transient: Bool
}

extension DriverContext {
    /// The logical graph's bytes: from `graph_blobs`, or fetched from the execution's URL and
    /// checked against its pinned SHA-256 (then stored).
    func logicalGraph(_ e: ExecutionRecord) async throws -> Result<[UInt8], StepProblem> {
        guard let sha = e.graphSHA256 else {
            return .failure(StepProblem(message: "the execution pins no graph (graph_sha256 is empty)", transient: false))
        }
        if let bytes = try await ledger.graph(sha256: sha) {
            guard SHA256Digest.hex(bytes) == sha else {
                return .failure(StepProblem(message: "stored graph \(sha) does not hash to its own SHA-256; refusing to run it", transient: false))
            }
            return .success(bytes)
        }
        guard let url = e.graphURL else {
            return .failure(StepProblem(message: "graph \(sha) is not stored in graph_blobs and the execution has no graph URL", transient: false))
        }
        let response: HTTPResponse
        do {
            response = try await http.send(HTTPRequest(.get, url, timeout: configuration.graphFetchTimeout))
        } catch {
            if error.kind == .cancelled { throw CancellationError() }
            return .failure(StepProblem(message: "fetching the graph from \(error.url): \(error)", transient: error.isUnreachable))
        }
        guard response.isSuccess else {
            return .failure(StepProblem(message: "fetching the graph from \(HTTPError.redact(url)): HTTP \(response.status)",
                                        transient: response.status >= 500 || response.status == 429))
        }
        let actual = SHA256Digest.hex(response.body)
        guard actual == sha else {
            return .failure(StepProblem(message: "the graph at \(HTTPError.redact(url)) has sha256 \(actual), but the execution pins \(sha); "
                                        + "refusing to run content that changed", transient: false))
        }
        try await ledger.storeGraph(response.body)
        return .success(response.body)
    }

    /// Runs `body` (a call to the Translator Manager at `tm`) when it is its turn there
    /// (`translationsPerTM` at once).
    func oneTranslationAtATime<T: Sendable>(_ tm: String, _ body: () async throws(TranslatorError) -> T) async throws(TranslatorError) -> T {
        guard await translations.enter(tm) else { throw .cancelled }
        let result: Result<T, TranslatorError>
        do {
            result = .success(try await body())
        } catch {
            result = .failure(error)
        }
        await translations.leave(tm)
        return try result.get()
    }
}
