/// Builds SigV4's canonical request as bytes, with no per-header strings.
///
/// Header names are lower-cased, values trimmed with inner runs of blanks collapsed; both are
/// copied into one flat scratch buffer and sorted as index entries (stable, so repeated names
/// keep their order and are joined with `,`). Query names and values are S3-URI-encoded the
/// same way and sorted by name, then value. All scratch memory comes from
/// `withUnsafeTemporaryAllocation` (the stack, for any normal request).
enum CanonicalRequest {
    struct Entry {
        var nameStart: Int
        var nameEnd: Int
        var valueStart: Int
        var valueEnd: Int
    }

    /// An upper bound of the canonical request's length.
    static func capacity(method: String, path: String, query: [(String, String)], headers: [(String, String)], payloadHash: String) -> Int {
        var n = method.utf8.count + path.utf8.count + payloadHash.utf8.count + 8
        for (k, v) in query { n += 3 * (k.utf8.count + v.utf8.count) + 2 }
        // Each header: "name:value\n" plus the name again in the signed list.
        for (k, v) in headers { n += 2 * k.utf8.count + v.utf8.count + 3 }
        return n
    }

    /// Writes the canonical request; returns the range of the signed-headers list
    /// (`host;range;x-amz-date`) in the writer.
    static func write(into out: inout ByteWriter, method: String, path: String, query: [(String, String)],
                      headers: [(String, String)], payloadHash: String) -> Range<Int> {
        out.string(method); out.byte(10)
        out.string(path); out.byte(10)
        writeQuery(query, into: &out); out.byte(10)

        var flatSize = 0
        for (name, value) in headers { flatSize += name.utf8.count + value.utf8.count }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(flatSize, 1)) { flat in
            withUnsafeTemporaryAllocation(of: Entry.self, capacity: max(headers.count, 1)) { entries in
                var used = 0
                for (i, (name, value)) in headers.enumerated() {
                    let ns = used
                    used = appendLowercased(name, to: flat, at: used)
                    let vs = used
                    used = appendTrimmed(value, to: flat, at: used)
                    entries.initializeElement(at: i, to: Entry(nameStart: ns, nameEnd: vs, valueStart: vs, valueEnd: used))
                }
                let f = UnsafeBufferPointer(flat)
                let list = UnsafeMutableBufferPointer(rebasing: entries[0..<headers.count])
                sortStable(list) { compare(f, $0.nameStart, $0.nameEnd, $1.nameStart, $1.nameEnd) < 0 }
                var i = 0
                while i < list.count {
                    let e = list[i]
                    out.bytes(UnsafeBufferPointer(rebasing: f[e.nameStart..<e.nameEnd]))
                    out.byte(UInt8(ascii: ":"))
                    out.bytes(UnsafeBufferPointer(rebasing: f[e.valueStart..<e.valueEnd]))
                    var j = i + 1
                    while j < list.count, compare(f, list[j].nameStart, list[j].nameEnd, e.nameStart, e.nameEnd) == 0 {
                        out.byte(UInt8(ascii: ","))
                        out.bytes(UnsafeBufferPointer(rebasing: f[list[j].valueStart..<list[j].valueEnd]))
                        j += 1
                    }
                    out.byte(10)
                    i = j
                }
                out.byte(10)
                let start = out.count
                i = 0
                while i < list.count {
                    let e = list[i]
                    if i > 0 { out.byte(UInt8(ascii: ";")) }
                    out.bytes(UnsafeBufferPointer(rebasing: f[e.nameStart..<e.nameEnd]))
                    var j = i + 1
                    while j < list.count, compare(f, list[j].nameStart, list[j].nameEnd, e.nameStart, e.nameEnd) == 0 { j += 1 }
                    i = j
                }
                let range = start..<out.count
                out.byte(10)
                out.string(payloadHash)
                return range
            }
        }
    }

    /// The sorted, encoded query (`a=1&b=2`).
    static func writeQuery(_ query: [(String, String)], into out: inout ByteWriter) {
        if query.isEmpty { return }
        var flatSize = 0
        for (k, v) in query { flatSize += 3 * (k.utf8.count + v.utf8.count) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(flatSize, 1)) { flat in
            withUnsafeTemporaryAllocation(of: Entry.self, capacity: query.count) { entries in
                var w = ByteWriter(flat)
                for (i, (name, value)) in query.enumerated() {
                    let ns = w.count
                    S3URIEncoding.write(name, keepingSlash: false, to: &w)
                    let vs = w.count
                    S3URIEncoding.write(value, keepingSlash: false, to: &w)
                    entries.initializeElement(at: i, to: Entry(nameStart: ns, nameEnd: vs, valueStart: vs, valueEnd: w.count))
                }
                let f = UnsafeBufferPointer(flat)
                sortStable(entries) { a, b in
                    let c = compare(f, a.nameStart, a.nameEnd, b.nameStart, b.nameEnd)
                    return c != 0 ? c < 0 : compare(f, a.valueStart, a.valueEnd, b.valueStart, b.valueEnd) < 0
                }
                for (i, e) in entries.enumerated() {
                    if i > 0 { out.byte(UInt8(ascii: "&")) }
                    out.bytes(UnsafeBufferPointer(rebasing: f[e.nameStart..<e.nameEnd]))
                    out.byte(UInt8(ascii: "="))
                    out.bytes(UnsafeBufferPointer(rebasing: f[e.valueStart..<e.valueEnd]))
                }
            }
        }
    }

    @inline(__always)
    static func compare(_ f: UnsafeBufferPointer<UInt8>, _ a0: Int, _ a1: Int, _ b0: Int, _ b1: Int) -> Int {
        let la = a1 - a0, lb = b1 - b0
        var k = 0
        while k < la && k < lb {
            let x = f[a0 + k], y = f[b0 + k]
            if x != y { return x < y ? -1 : 1 }
            k += 1
        }
        return la == lb ? 0 : (la < lb ? -1 : 1)
    }

    /// Insertion sort: stable, and fastest for the handful of headers a request has.
    @inline(__always)
    static func sortStable(_ a: UnsafeMutableBufferPointer<Entry>, by less: (Entry, Entry) -> Bool) {
        if a.count < 2 { return }
        for i in 1..<a.count {
            let x = a[i]
            var j = i - 1
            while j >= 0 && less(x, a[j]) {
                a[j + 1] = a[j]
                j -= 1
            }
            a[j + 1] = x
        }
    }

    /// Copies `s` lower-cased (ASCII) into `out` from `at`; returns the new end.
    @inline(__always)
    static func appendLowercased(_ s: String, to out: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        var s = s
        return s.withUTF8 { u in
            var n = start
            for b in u {
                out[n] = (b >= 65 && b <= 90) ? b + 32 : b
                n += 1
            }
            return n
        }
    }

    /// Copies `s` into `out` from `at` with leading and trailing blanks trimmed and inner runs
    /// of blanks collapsed to one space; returns the new end.
    @inline(__always)
    static func appendTrimmed(_ s: String, to out: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        var s = s
        return s.withUTF8 { u in
            var n = start
            var pendingSpace = false
            var any = false
            for b in u {
                if b == 32 || b == 9 {
                    pendingSpace = any
                } else {
                    if pendingSpace { out[n] = 32; n += 1; pendingSpace = false }
                    out[n] = b
                    n += 1
                    any = true
                }
            }
            return n
        }
    }

    /// The canonical request as text (tests and debugging).
    static func text(_ r: SigV4Request) -> String {
        let cap = capacity(method: r.method, path: r.path, query: r.query, headers: r.headers, payloadHash: r.payloadHash)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: cap) { buf in
            var w = ByteWriter(buf)
            _ = write(into: &w, method: r.method, path: r.path, query: r.query, headers: r.headers, payloadHash: r.payloadHash)
            return String(decoding: w.slice(0..<w.count), as: UTF8.self)
        }
    }
}
