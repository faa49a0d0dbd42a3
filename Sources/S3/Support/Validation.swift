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
