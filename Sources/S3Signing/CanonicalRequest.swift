/// Builds SigV4's canonical request as bytes in one buffer, with no per-header strings.
///
/// Header names are lower-cased, values trimmed with inner runs of blanks collapsed; both are
/// copied into one flat byte buffer and sorted as index entries (stable, so repeated names keep
/// their order and are joined with `,`). Query names and values are S3-URI-encoded the same way
/// and sorted by name, then value.
enum CanonicalRequest {
    struct Entry {
        var nameStart: Int
        var nameEnd: Int
        var valueStart: Int
        var valueEnd: Int
    }

    /// Appends the canonical request to `out`; returns the byte range of the signed-headers
    /// list inside `out` (`host;range;x-amz-date`).
    static func write(into out: inout [UInt8], method: String, path: String, query: [(String, String)],
                      headers: [(String, String)], payloadHash: String) -> Range<Int> {
        append(method, to: &out); out.append(10)
        append(path, to: &out); out.append(10)
        writeQuery(query, into: &out); out.append(10)

        var capacity = 0
        for (name, value) in headers { capacity += name.utf8.count + value.utf8.count }
        // Scratch space on the stack: the flat bytes and the sortable entries.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(capacity, 1)) { flat in
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
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: f[e.nameStart..<e.nameEnd]))
                    out.append(UInt8(ascii: ":"))
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: f[e.valueStart..<e.valueEnd]))
                    var j = i + 1
                    while j < list.count, compare(f, list[j].nameStart, list[j].nameEnd, e.nameStart, e.nameEnd) == 0 {
                        out.append(UInt8(ascii: ","))
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: f[list[j].valueStart..<list[j].valueEnd]))
                        j += 1
                    }
                    out.append(10)
                    i = j
                }
                out.append(10)
                let start = out.count
                i = 0
                while i < list.count {
                    let e = list[i]
                    if i > 0 { out.append(UInt8(ascii: ";")) }
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: f[e.nameStart..<e.nameEnd]))
                    var j = i + 1
                    while j < list.count, compare(f, list[j].nameStart, list[j].nameEnd, e.nameStart, e.nameEnd) == 0 { j += 1 }
                    i = j
                }
                let range = start..<out.count
                out.append(10)
                append(payloadHash, to: &out)
                return range
            }
        }
    }

    /// The sorted, encoded query (`a=1&b=2`).
    static func writeQuery(_ query: [(String, String)], into out: inout [UInt8]) {
        if query.isEmpty { return }
        var flat = [UInt8]()
        flat.reserveCapacity(query.count * 48)
        var entries = [Entry]()
        entries.reserveCapacity(query.count)
        for (name, value) in query {
            let ns = flat.count
            S3URIEncoding.append(name, keepingSlash: false, to: &flat)
            let vs = flat.count
            S3URIEncoding.append(value, keepingSlash: false, to: &flat)
            entries.append(Entry(nameStart: ns, nameEnd: vs, valueStart: vs, valueEnd: flat.count))
        }
        flat.withUnsafeBufferPointer { f in
            entries.withUnsafeMutableBufferPointer { list in
                sortStable(list) { a, b in
                    let c = compare(f, a.nameStart, a.nameEnd, b.nameStart, b.nameEnd)
                    return c != 0 ? c < 0 : compare(f, a.valueStart, a.valueEnd, b.valueStart, b.valueEnd) < 0
                }
            }
            for (i, e) in entries.enumerated() {
                if i > 0 { out.append(UInt8(ascii: "&")) }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: f[e.nameStart..<e.nameEnd]))
                out.append(UInt8(ascii: "="))
                out.append(contentsOf: UnsafeBufferPointer(rebasing: f[e.valueStart..<e.valueEnd]))
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

    @inline(__always)
    static func append(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { out.append(contentsOf: $0) }
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
        var out = [UInt8]()
        _ = write(into: &out, method: r.method, path: r.path, query: r.query, headers: r.headers, payloadHash: r.payloadHash)
        return String(decoding: out, as: UTF8.self)
    }
}
