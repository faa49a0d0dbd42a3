/// One HTTP request for ``HTTPEngine``.
///
/// Printing, `dump()` and `Mirror` redact what authenticates it: the `Authorization` and
/// `x-amz-security-token` headers and a presigned URL's `X-Amz-Signature` and
/// `X-Amz-Security-Token`.
public struct HTTPRequest: Sendable, CustomStringConvertible, CustomReflectable {
    /// The method, upper-case.
    public var method: String
    /// The absolute URL, already percent-encoded (`http://host:port/path?query`).
    public var url: String
    /// Request headers. `Host` may be set explicitly; `Content-Length` is derived from the body.
    public var headers: HTTPHeaders
    /// The body to send.
    public var body: HTTPRequestBody
    /// Where a successful (2xx) response body goes instead of the response's byte stream, after
    /// the `count` bytes already there, on the loop thread: over plain HTTP read from the socket
    /// straight into it (a GET with no time limit; see `DirectConnection`), otherwise copied in
    /// by curl's write callback. No element is allocated and no reader is woken until the
    /// transfer ends. The response's body stream then yields nothing and ends when the last
    /// byte is in. A body larger than the room left fails with `.bodyTooLarge`. Error
    /// responses (other statuses) still stream, so they can be read. The buffer must not be
    /// touched until the response's body stream has ended. (Package-internal: the ranged
    /// downloads of the `S3` module.)
    package var responseBuffer: PartBuffer?
    /// Where a successful (2xx) response body is written instead of the byte stream, like
    /// `responseBuffer` but into a file, at the range's offset, on the loop thread: over plain
    /// HTTP moved from the socket into the file by the kernel (`splice`, no copy in this
    /// process), otherwise written by curl's write callback. A body longer than the range's
    /// `length` fails with `.bodyTooLarge` before a byte of it is written; a failed write fails
    /// the request with `.responseWriteFailed`. The response's body stream yields nothing and
    /// ends when the last byte is written; its `finishedByteCount` says how many were.
    /// (Package-internal: the ranged downloads to a file.)
    package var responseFile: ResponseFileRange?
    /// A limit on the whole exchange, connection included (`CURLOPT_TIMEOUT_MS`), for small
    /// requests that must fail fast (instance metadata, credential endpoints); it also caps
    /// the connect time. `nil` (the default): only the engine's connect timeout and stall
    /// detection apply. Exceeding it fails the request with a `.stalled` or `.connectTimeout`
    /// ``HTTPTransportError``.
    public var timeoutMilliseconds: Int?

    /// A request.
    public init(method: String, url: String, headers: HTTPHeaders = HTTPHeaders(), body: HTTPRequestBody = .none,
                timeoutMilliseconds: Int? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// A request whose 2xx body is written into `responseBuffer`.
    package init(method: String, url: String, headers: HTTPHeaders = HTTPHeaders(), body: HTTPRequestBody = .none,
                 responseBuffer: PartBuffer?, timeoutMilliseconds: Int? = nil) {
        self.init(method: method, url: url, headers: headers, body: body, timeoutMilliseconds: timeoutMilliseconds)
        self.responseBuffer = responseBuffer
    }

    public var description: String { "\(method) \(redactedURL)" }

    public var customMirror: Mirror {
        Mirror(self, children: ["method": method, "url": redactedURL, "headers": headers, "bodyLength": body.length as Any],
               displayStyle: .struct)
    }

    /// The URL with the values of signature and token query parameters replaced.
    public var redactedURL: String {
        guard let q = url.firstIndex(of: "?") else { return url }
        let query = url[url.index(after: q)...].split(separator: "&", omittingEmptySubsequences: false).map { item -> String in
            let name = item.prefix { $0 != "=" }.lowercased()
            return name == "x-amz-signature" || name == "x-amz-security-token" ? item.prefix { $0 != "=" } + "=<redacted>" : String(item)
        }
        return url[..<q] + "?" + query.joined(separator: "&")
    }

    /// Why the request must not be sent, or nil: a method or header name that is not an HTTP
    /// token, or a header value or URL with CR, LF or NUL (which would let a value smuggle
    /// extra header lines or a second request onto the connection).
    public var headerProblem: String? {
        func isToken(_ s: String) -> Bool {
            !s.isEmpty && s.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(b)
            }
        }
        if !isToken(method) { return "the method is not an HTTP token" }
        if url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) { return "the URL holds a space or control character" }
        for (name, value) in headers {
            if !isToken(name) { return "the header name \(String(reflecting: name)) is not an HTTP token" }
            if value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
                return "the value of header \(name) holds a control character (CR, LF, NUL, ...)"
            }
        }
        return nil
    }

    /// The host (and port) the URL names, for error messages.
    public var host: String {
        var rest = Substring(url)
        if let r = rest.range(of: "://") { rest = rest[r.upperBound...] }
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        return String(rest)
    }
}

/// What a request sends: nothing, bytes in memory, a region of an open file, or bytes produced
/// while they are sent.
public struct HTTPRequestBody: Sendable {
    /// The kinds of body (package-internal; the `S3` module also sends part buffers).
    package enum Storage: Sendable {
        case none
        case bytes([UInt8])
        case buffer(PartBuffer)
        case file(descriptor: Int32, offset: Int64, length: Int64)
        case stream(HTTPBodyStream)
    }

    package let storage: Storage

    package init(_ storage: Storage) { self.storage = storage }

    /// No body (`PUT` and `POST` send an empty one with `Content-Length: 0`).
    public static let none = HTTPRequestBody(.none)

    /// Bytes in memory.
    public static func bytes(_ bytes: [UInt8]) -> HTTPRequestBody { HTTPRequestBody(.bytes(bytes)) }

    /// The bytes in use of a part buffer (kept alive until the request completes).
    package static func buffer(_ buffer: PartBuffer) -> HTTPRequestBody { HTTPRequestBody(.buffer(buffer)) }

    /// `length` bytes of an open file from `offset`, read with `pread` as they are sent, so the
    /// region can be sent again on a retry. The caller keeps the descriptor open until the
    /// response completes, and closes it.
    public static func file(descriptor: Int32, offset: Int64, length: Int64) -> HTTPRequestBody {
        HTTPRequestBody(.file(descriptor: descriptor, offset: offset, length: length))
    }

    /// Bytes produced as they are sent, with back-pressure; sent chunked when the length is
    /// unknown.
    public static func stream(_ stream: HTTPBodyStream) -> HTTPRequestBody { HTTPRequestBody(.stream(stream)) }

    /// The number of bytes, when known.
    public var length: Int64? {
        switch storage {
        case .none: return 0
        case .bytes(let b): return Int64(b.count)
        case .buffer(let b): return Int64(b.count)
        case .file(_, _, let length): return length
        case .stream(let s): return s.length
        }
    }

    /// Whether the body can be sent again (on a retry): everything but a stream.
    public var isReplayable: Bool {
        if case .stream = storage { return false }
        return true
    }
}

/// A request body produced while it is sent.
///
/// The producer writes through an ``HTTPUploadWriter``, whose `write` suspends while the
/// transfer's send buffer is full.
public struct HTTPBodyStream: Sendable {
    /// The total length, or nil to send with chunked transfer encoding.
    public let length: Int64?
    let produce: @Sendable (HTTPUploadWriter) async throws -> Void

    /// A body written by `produce`, which returns when the body is complete.
    public init(length: Int64? = nil, produce: @escaping @Sendable (HTTPUploadWriter) async throws -> Void) {
        self.length = length
        self.produce = produce
    }

    /// A body that sends each element of `sequence` in order.
    public init<S: AsyncSequence & Sendable>(length: Int64? = nil, _ sequence: S) where S.Element == [UInt8] {
        self.length = length
        self.produce = { writer in
            for try await chunk in sequence { try await writer.write(chunk) }
        }
    }
}

/// Writes a streamed request body into its transfer.
public struct HTTPUploadWriter: Sendable {
    let transfer: Transfer

    /// Queues `bytes` to be sent; suspends while the send buffer is full. Throws when the
    /// transfer ended or was cancelled.
    public func write(_ bytes: [UInt8]) async throws {
        if bytes.isEmpty { return }
        try await transfer.enqueueUpload(bytes)
    }
}
