import CCurl
import Foundation

/// libcurl's process-wide initialisation, run once before the first handle exists.
private let curlGlobalInit: CURLcode = ccurl_global_init_default()

/// A flag the caller's task sets when it is cancelled; libcurl's progress callback reads it and
/// aborts the transfer.
final class CancelFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false  // guarded by `lock`

    func cancel() { lock.withLock { cancelled = true } }
    var isCancelled: Bool { lock.withLock { cancelled } }
}

/// What the callbacks of one transfer collect. Lives only for one `perform` call.
private final class Exchange {
    var body: [UInt8] = []
    var headers: [HTTPHeader] = []
    let cancel: CancelFlag

    init(cancel: CancelFlag) { self.cancel = cancel }
}

/// One libcurl easy handle. It is only ever used by the worker thread that owns it; reusing it
/// across requests keeps libcurl's connection cache.
final class CurlHandle {
    private let handle: UnsafeMutableRawPointer

    init?() {
        guard curlGlobalInit == CURLE_OK, let handle = curl_easy_init() else { return nil }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    /// Runs one request to completion on the calling thread. Any status is a response; only
    /// transport failures are errors.
    func perform(_ request: HTTPRequest, cancel: CancelFlag) -> Result<HTTPResponse, HTTPError> {
        curl_easy_reset(handle)
        let exchange = Exchange(cancel: cancel)
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer {
            errorBuffer.deallocate()
            curl_slist_free_all(headerList)
        }
        func fail(_ message: String) -> Result<HTTPResponse, HTTPError> {
            .failure(HTTPError(kind: .invalidRequest, method: request.method, url: request.url, message: message))
        }

        let body = request.body?.encoded ?? []
        var headers = request.headers
        if let body = request.body { headers.append(HTTPHeader("Content-Type", body.contentType)) }
        // No "Expect: 100-continue": DALiuGE's HTTP/1.0 servers never answer it, which costs a second.
        headers.append(HTTPHeader("Expect", ""))
        for header in headers {
            let line = header.value.isEmpty ? "\(header.name):" : "\(header.name): \(header.value)"
            guard let appended = curl_slist_append(headerList, line) else { return fail("cannot build headers") }
            headerList = appended
        }

        let context = Unmanaged.passUnretained(exchange).toOpaque()
        var code = CURLE_OK
        func set(_ result: CURLcode) { if code == CURLE_OK { code = result } }
        set(ccurl_setopt_string(handle, CURLOPT_URL, request.url))
        set(ccurl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeout.curlMilliseconds))
        set(ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, request.timeout.curlMilliseconds))
        set(ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, request.tls.verify ? 1 : 0))
        set(ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, request.tls.verify ? 2 : 0))
        if let caFile = request.tls.caFile { set(ccurl_setopt_string(handle, CURLOPT_CAINFO, caFile)) }
        set(ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        set(ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList))
        set(ccurl_setopt_data_function(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            let exchange = Unmanaged<Exchange>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            if let data, length > 0 {
                exchange.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
            }
            return length
        })
        set(ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context))
        set(ccurl_setopt_data_function(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            let exchange = Unmanaged<Exchange>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            guard let data, length > 0 else { return length }
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if line.hasPrefix("HTTP/") {
                exchange.headers.removeAll()  // a new response (after 100 Continue, say) starts
            } else if let colon = line.firstIndex(of: ":") {
                exchange.headers.append(HTTPHeader(String(line[..<colon]),
                                                   line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
            return length
        })
        set(ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, context))
        set(ccurl_setopt_long(handle, CURLOPT_NOPROGRESS, 0))
        set(ccurl_setopt_xferinfo_function(handle) { context, _, _, _, _ in
            Unmanaged<Exchange>.fromOpaque(context!).takeUnretainedValue().cancel.isCancelled ? 1 : 0
        })
        set(ccurl_setopt_pointer(handle, CURLOPT_XFERINFODATA, context))

        switch request.method {
        case .get: set(ccurl_setopt_long(handle, CURLOPT_HTTPGET, 1))
        case .head: set(ccurl_setopt_long(handle, CURLOPT_NOBODY, 1))
        case .post: set(ccurl_setopt_long(handle, CURLOPT_POST, 1))
        case .delete: set(ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, "DELETE"))
        }
        if code != CURLE_OK { return fail(String(cString: curl_easy_strerror(code))) }

        return body.withUnsafeBytes { bytes -> Result<HTTPResponse, HTTPError> in
            if request.method == .post || request.body != nil {
                set(ccurl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count)))
                // An empty body still needs a non-null pointer, or libcurl reads from stdin.
                let pointer = bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
                set(ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, pointer ?? UnsafeMutableRawPointer(errorBuffer)))
                if code != CURLE_OK { return fail(String(cString: curl_easy_strerror(code))) }
            }
            let result = curl_easy_perform(handle)
            if result != CURLE_OK {
                let detail = String(cString: errorBuffer)
                let message = detail.isEmpty ? String(cString: curl_easy_strerror(result)) : detail
                return .failure(HTTPError(kind: Self.kind(of: result), method: request.method, url: request.url,
                                          message: message, curlCode: Int(result.rawValue)))
            }
            var status = 0
            _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
            return .success(HTTPResponse(status: status, headers: exchange.headers, body: exchange.body))
        }
    }

    private static func kind(of code: CURLcode) -> HTTPError.Kind {
        switch code {
        case CURLE_COULDNT_CONNECT: .connectionRefused
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: .hostNotFound
        case CURLE_OPERATION_TIMEDOUT: .timedOut
        case CURLE_ABORTED_BY_CALLBACK: .cancelled
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CRL_BADFILE, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
             CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_SHUTDOWN_FAILED,
             CURLE_USE_SSL_FAILED:
            .tls
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT: .invalidRequest
        default: .transport
        }
    }
}
