import S3HTTP

/// Checks made before any request is sent, so bad input fails fast with a clear message.
enum Validation {
    /// S3's bucket naming rules: 3-63 characters of `a-z 0-9 . -`, starting and ending with a
    /// letter or digit, no `..`, not an IPv4 address, no reserved prefix or suffix.
    static func bucketName(_ name: String) throws(S3Error) {
        func fail(_ why: String) -> S3Error { .invalidArgument("invalid bucket name \"\(name)\": \(why)", bucket: name) }
        let u = Array(name.utf8)
        guard (3...63).contains(u.count) else { throw fail("must be 3 to 63 characters long") }
        for b in u {
            let ok = (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 46 || b == 45
            if !ok { throw fail("only lower-case letters, digits, '.' and '-' are allowed") }
        }
        func alnum(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 48 && b <= 57) }
        guard alnum(u.first!), alnum(u.last!) else { throw fail("must start and end with a letter or digit") }
        if name.contains("..") || name.contains(".-") || name.contains("-.") { throw fail("no adjacent '.' and '-'") }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4 && octets.allSatisfy({ UInt8($0) != nil }) { throw fail("must not look like an IP address") }
        if name.hasPrefix("xn--") || name.hasPrefix("sthree-") { throw fail("reserved prefix") }
        if name.hasSuffix("-s3alias") || name.hasSuffix("--ol-s3") { throw fail("reserved suffix") }
    }

    /// A key is 1 to 1,024 bytes of UTF-8.
    static func key(_ key: String, bucket: String) throws(S3Error) {
        let n = key.utf8.count
        if n == 0 { throw .invalidArgument("the object key is empty", bucket: bucket, key: key) }
        if n > 1024 { throw .invalidArgument("the object key is \(n) bytes long; S3 allows at most 1,024", bucket: bucket, key: key) }
    }

    /// User metadata travels in `x-amz-meta-*` headers: names must be HTTP tokens, values
    /// printable ASCII, and the whole at most 2 KiB.
    static func metadata(_ metadata: [String: String], bucket: String, key: String) throws(S3Error) {
        var total = 0
        for (name, value) in metadata {
            if name.isEmpty { throw .invalidArgument("a metadata name is empty", bucket: bucket, key: key) }
            let tchar = Set("!#$%&'*+-.^_`|~".utf8)
            for b in name.utf8 where !((b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || tchar.contains(b)) {
                throw .invalidArgument("metadata name \"\(name)\" may only hold letters, digits and !#$%&'*+-.^_`|~", bucket: bucket, key: key)
            }
            for b in value.utf8 where b < 32 || b > 126 {
                throw .invalidArgument("metadata value of \"\(name)\" must be printable ASCII (no control characters or non-ASCII)", bucket: bucket, key: key)
            }
            total += name.utf8.count + value.utf8.count
        }
        if total > 2048 { throw .invalidArgument("user metadata is \(total) bytes; S3 allows at most 2 KiB", bucket: bucket, key: key) }
    }
}

extension Validation {
    /// HTTP token characters (RFC 9110 `tchar`), for header names and methods.
    static func isToken(_ s: String) -> Bool {
        guard !s.isEmpty else { return false }
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): continue
            case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
                 UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
                 UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): continue
            default: return false
            }
        }
        return true
    }

    /// Refuses a method or header that would break the request apart on the wire: a method or
    /// header name that is not an HTTP token, a value with CR, LF or NUL (a header injection),
    /// or another control character but tab.
    static func headers(method: String, _ headers: HTTPHeaders, bucket: String?, key: String?) throws(S3Error) {
        guard isToken(method) else {
            throw .invalidArgument("the HTTP method \(String(reflecting: method)) is not a token", bucket: bucket, key: key)
        }
        for (name, value) in headers {
            guard isToken(name) else {
                throw .invalidArgument("the header name \(String(reflecting: name)) is not an HTTP token", bucket: bucket, key: key)
            }
            for b in value.utf8 where (b < 32 && b != 9) || b == 127 {
                let what = b == 13 || b == 10 ? "a line break (CR or LF)" : b == 0 ? "a NUL byte" : "a control character"
                throw .invalidArgument("the value of header \(name) holds \(what); nothing was sent", bucket: bucket, key: key)
            }
        }
    }

    /// A region name: letters, digits and '-', 1 to 64 characters (so a region taken from a
    /// response can go into a host name and a signature safely).
    static func isRegionName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
    }
}
