/// S3's URI encoding rules (the ones SigV4 signs and S3 decodes).
///
/// RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) are left alone; every other UTF-8
/// byte becomes `%XX` with upper-case hex. Paths keep `/`; nothing is normalized (no `.`/`..`
/// collapsing, no merging of `//`), and nothing is encoded twice.
public enum S3URIEncoding {
    @inline(__always)
    static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    static let upperHex: [UInt8] = Array("0123456789ABCDEF".utf8)

    @inline(__always)
    static func write(_ string: String, keepingSlash: Bool, to out: inout ByteWriter) {
        var s = string
        s.withUTF8 { u in
            for b in u {
                if isUnreserved(b) || (keepingSlash && b == UInt8(ascii: "/")) {
                    out.byte(b)
                } else {
                    out.byte(UInt8(ascii: "%"))
                    out.byte(upperHex[Int(b >> 4)])
                    out.byte(upperHex[Int(b & 0x0f)])
                }
            }
        }
    }

    /// Encodes an object key or path for use in a URL path: `/` is kept, all else per S3's rules.
    public static func encodePath(_ path: String) -> String { encode(path, keepingSlash: true) }

    /// Encodes a query parameter name or value: everything but unreserved characters, `/` included.
    public static func encodeQueryComponent(_ value: String) -> String { encode(value, keepingSlash: false) }

    static func encode(_ value: String, keepingSlash: Bool) -> String {
        String(unsafeUninitializedCapacity: max(value.utf8.count * 3, 1)) { out in
            var w = ByteWriter(out)
            write(value, keepingSlash: keepingSlash, to: &w)
            return w.count
        }
    }

    /// The canonical query string: each name and value encoded, sorted by encoded name, then by
    /// encoded value, joined as `name=value` with `&`.
    public static func canonicalQuery(_ query: [(String, String)]) -> String {
        var size = 0
        for (k, v) in query { size += 3 * (k.utf8.count + v.utf8.count) + 2 }
        return String(unsafeUninitializedCapacity: max(size, 1)) { out in
            var w = ByteWriter(out)
            CanonicalRequest.writeQuery(query, into: &w)
            return w.count
        }
    }

}
