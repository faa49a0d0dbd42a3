/// The pure parts of the direct path (see ``DirectConnection``): which requests take it, the
/// request as bytes on the wire, and the response head read back (the body's framing:
/// ``ChunkedDecoder``). No I/O here, so the parser
/// is unit-tested and fuzzed on its own.
package enum DirectHTTP {
    /// The largest response head accepted (S3's heads are well under 4 KiB).
    package static let maxHeadLength = 64 << 10

    /// Whether `request` may take the direct path: any request over `http` or `https` whose body
    /// is in memory (none, bytes, or a part buffer: sent from where it is, over TLS in gathered
    /// writes), with no whole-exchange time limit. A body read from a file or a stream as it
    /// goes, and a request with a time limit (the credential providers'), go through curl.
    static func isEligible(_ request: HTTPRequest) -> Bool {
        guard request.timeoutMilliseconds == nil, target(of: request.url) != nil else { return false }
        switch request.body.storage {
        case .none, .bytes, .buffer:
            return true
        case .file, .stream:
            return false
        }
    }

    /// The number of body bytes a direct request sends after its head.
    static func bodyCount(of request: HTTPRequest) -> Int {
        switch request.body.storage {
        case .bytes(let bytes): return bytes.count
        case .buffer(let buffer): return buffer.count
        case .none, .file, .stream: return 0
        }
    }

    /// Calls `body` with the bytes a direct request sends after its head, where they are (the
    /// request's own array or part buffer: no copy); empty for a request without a body.
    static func withBody<R>(of request: HTTPRequest, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch request.body.storage {
        case .bytes(let bytes): return bytes.withUnsafeBytes(body)
        case .buffer(let buffer): return body(buffer.bytes)
        case .none, .file, .stream: return body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// The authority (`host[:port]`) and the request target (`/path?query`) of an `http://` or
    /// `https://` URL, and whether it is the latter; nil for other schemes, user information,
    /// or an empty host.
    static func target(of url: String) -> (authority: Substring, target: Substring, tls: Bool)? {
        let tls: Bool
        if url.utf8.count > 7, url.utf8.prefix(7).elementsEqual("http://".utf8) {
            tls = false
        } else if url.utf8.count > 8, url.utf8.prefix(8).elementsEqual("https://".utf8) {
            tls = true
        } else {
            return nil
        }
        let rest = url.dropFirst(tls ? 8 : 7)
        let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<end]
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var target = rest[end...]
        if let hash = target.firstIndex(of: "#") { target = target[..<hash] }
        return (authority, target, tls)
    }

    /// The key of the connection pool for `url`: its authority with the port made explicit,
    /// after `https://` for TLS (a plain and a TLS connection to one port are not the same).
    static func connectionKey(url: String) -> String? {
        guard let (authority, _, tls) = target(of: url) else { return nil }
        // "host", "host:port", "[v6]" or "[v6]:port": a port is what follows the last ':' after
        // any ']'.
        let afterBracket = authority.lastIndex(of: "]").map { authority[authority.index(after: $0)...] } ?? authority
        let explicit = afterBracket.contains(":") ? String(authority) : String(authority) + (tls ? ":443" : ":80")
        return tls ? "https://" + explicit : explicit
    }

    /// The `host:port` a pool key names, and whether its connections speak TLS.
    static func endpoint(ofKey key: String) -> (authority: String, tls: Bool) {
        key.hasPrefix("https://") ? (String(key.dropFirst(8)), true) : (key, false)
    }

    /// The host name or address of an authority (`host:port`, `[v6]:port`), as a certificate
    /// names it: without the port and the brackets.
    static func hostName(ofAuthority authority: String) -> String {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<close])
        }
        if let colon = authority.lastIndex(of: ":") { return String(authority[..<colon]) }
        return authority
    }

    /// The request's head as HTTP/1.1 bytes: request line, `Host` (the header if set, else the
    /// URL's authority), then the other headers as given, then `Content-Length` of its body when
    /// it has one, or is a PUT or POST (and then `Content-Type: application/octet-stream` unless
    /// one is given, as curl's path sends). Nil when the URL is not eligible. `Expect`
    /// and a given `Content-Length` are left out; a header with an empty value is sent empty.
    static func requestBytes(_ request: HTTPRequest) -> [UInt8]? {
        guard let (authority, target, _) = target(of: request.url) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(512 + request.headers.count * 64)
        out.append(contentsOf: request.method.utf8)
        out.append(0x20)
        if target.isEmpty || target.first == "?" { out.append(UInt8(ascii: "/")) }
        out.append(contentsOf: target.utf8)
        out.append(contentsOf: " HTTP/1.1\r\nHost: ".utf8)
        out.append(contentsOf: (request.headers["Host"] ?? String(authority)).utf8)
        out.append(contentsOf: "\r\n".utf8)
        for (name, value) in request.headers {
            let lower = name.lowercased()
            if lower == "host" || lower == "expect" || lower == "content-length" { continue }
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: value.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        let length = bodyCount(of: request)
        if length > 0 || request.method == "PUT" || request.method == "POST" {
            // As on curl's path: a body always says what it is (moto swallows a body without).
            if !request.headers.contains("Content-Type") {
                out.append(contentsOf: "Content-Type: application/octet-stream\r\n".utf8)
            }
            out.append(contentsOf: "Content-Length: \(length)\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
        return out
    }

    /// A response head.
    package struct Head {
        /// The status code.
        package var status: Int
        /// The header fields in order, names as sent.
        package var fields: [(String, String)]
        /// Bytes of the head, the blank line included.
        package var length: Int
        /// `Content-Length`, when sent.
        package var contentLength: Int64?
        /// `Transfer-Encoding` was sent: the body is chunked (``isChunked``), or else ends when
        /// the connection closes; `Content-Length` does not count then.
        package var hasTransferEncoding: Bool
        /// The last transfer coding is `chunked` (``ChunkedDecoder``).
        package var isChunked: Bool
        /// The connection may carry another request afterwards.
        package var keepAlive: Bool
    }

    /// What `parseHead` made of the bytes received so far.
    package enum HeadResult {
        /// No blank line yet: read more.
        case needMore
        /// Not an HTTP/1.x response head.
        case invalid(String)
        case head(Head)
    }

    /// Parses the response head at the start of `bytes`. Lines end with CRLF (a bare LF is
    /// taken too); folded header lines, a bad status line, a header without a colon and
    /// `Content-Length`s that disagree or are not all digits are invalid.
    package static func parseHead(_ bytes: UnsafeRawBufferPointer) -> HeadResult {
        let n = bytes.count
        var lineStart = 0
        var status = -1
        var minor: UInt8 = 1
        var fields: [(String, String)] = []
        var contentLength: Int64?
        var transferEncoding = false
        var chunked = false
        var connectionClose = false
        var connectionKeepAlive = false
        while true {
            var nl = lineStart
            while nl < n && bytes[nl] != 10 { nl += 1 }
            guard nl < n else {
                return n > maxHeadLength ? .invalid("the response head is longer than \(maxHeadLength) bytes") : .needMore
            }
            if nl + 1 > maxHeadLength { return .invalid("the response head is longer than \(maxHeadLength) bytes") }
            var end = nl
            if end > lineStart && bytes[end - 1] == 13 { end -= 1 }
            let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<end])
            lineStart = nl + 1
            if status < 0 {
                // "HTTP/1.x SSS[ reason]"
                guard line.count >= 12, line.starts(with: "HTTP/1.".utf8), line[7] == 0x30 || line[7] == 0x31,
                      line[8] == 0x20, (0x31...0x39).contains(line[9]), (0x30...0x39).contains(line[10]),
                      (0x30...0x39).contains(line[11]), line.count == 12 || line[12] == 0x20 else {
                    return .invalid("the status line is not HTTP/1.x")
                }
                minor = line[7] - 0x30
                status = Int(line[9] - 0x30) * 100 + Int(line[10] - 0x30) * 10 + Int(line[11] - 0x30)
                continue
            }
            if line.isEmpty { break }
            if line[0] == 0x20 || line[0] == 0x09 { return .invalid("a folded header line") }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
                return .invalid("a header line without a name and colon")
            }
            var vs = colon + 1
            while vs < line.count && (line[vs] == 0x20 || line[vs] == 0x09) { vs += 1 }
            var ve = line.count
            while ve > vs && (line[ve - 1] == 0x20 || line[ve - 1] == 0x09) { ve -= 1 }
            let name = String(decoding: line[0..<colon], as: UTF8.self)
            let value = String(decoding: line[vs..<ve], as: UTF8.self)
            switch name.lowercased() {
            case "content-length":
                guard !value.isEmpty, value.utf8.count <= 18, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                      let length = Int64(value) else { return .invalid("Content-Length \(String(reflecting: value)) is not a number") }
                if let earlier = contentLength, earlier != length { return .invalid("two different Content-Lengths") }
                contentLength = length
            case "transfer-encoding":
                transferEncoding = true
                // The codings apply in order: the body is chunked when chunked comes last.
                let last = value.lowercased().split(separator: ",").last.map { $0.trimmingCharacters(in: " \t") }
                chunked = last == "chunked"
            case "connection":
                for token in value.lowercased().split(separator: ",") {
                    let t = token.trimmingCharacters(in: " \t")
                    if t == "close" { connectionClose = true }
                    if t == "keep-alive" { connectionKeepAlive = true }
                }
            default:
                break
            }
            fields.append((name, value))
        }
        let keepAlive = !connectionClose && (minor == 1 || connectionKeepAlive)
        return .head(Head(status: status, fields: fields, length: lineStart, contentLength: contentLength,
                          hasTransferEncoding: transferEncoding, isChunked: chunked, keepAlive: keepAlive))
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return s
    }
}
