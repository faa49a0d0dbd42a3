import Foundation

/// An element of a parsed XML document: its name, child elements and text.
///
/// S3's XML is element-only (no mixed content that matters, attributes only for namespaces),
/// so a small tree is all the codecs need.
struct XMLNode: Sendable {
    /// The element name as written (namespace prefix included, if any).
    var name: String
    /// Child elements, in order.
    var children: [XMLNode]
    /// The element's own text, entities decoded (text around child elements is concatenated).
    var text: String

    /// An element.
    init(name: String, children: [XMLNode] = [], text: String = "") {
        self.name = name
        self.children = children
        self.text = text
    }

    /// The first child named `name`.
    func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }

    /// Every child named `name`.
    func children(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }

    /// The text of the first child named `name`.
    func value(_ name: String) -> String? { child(name)?.text }
}

/// Errors of ``XMLParser``.
struct XMLParseError: Error, Sendable, CustomStringConvertible {
    /// Byte offset where parsing failed.
    let offset: Int
    /// What was wrong.
    let reason: String
    var description: String { "malformed XML at byte \(offset): \(reason)" }
}

/// A small, fast, non-validating XML parser for S3 responses.
///
/// Handles the XML declaration, comments, processing instructions, DOCTYPE, CDATA, attributes
/// (skipped), self-closing tags and the predefined and numeric character references.
///
/// It refuses what no S3 answer contains and a hostile one might: input that is not UTF-8,
/// characters XML forbids (raw or as references such as `&#0;`), and elements nested deeper
/// than ``maximumDepth``. The parser never recurses, and with the depth bounded neither does
/// anything that walks or frees the tree it returns.
enum XMLParser {
    /// The deepest nesting accepted (S3's documents nest 6 levels at most).
    static let maximumDepth = 64

    /// Parses `bytes` and returns the root element.
    static func parse(_ bytes: [UInt8]) throws(XMLParseError) -> XMLNode {
        try bytes.withUnsafeBufferPointer { (p) throws(XMLParseError) -> XMLNode in
            if let bad = firstInvalidByte(p) {
                throw XMLParseError(offset: bad, reason: "not UTF-8, or a character XML does not allow")
            }
            var cursor = Cursor(p: p)
            return try cursor.document()
        }
    }

    /// Whether `v` is a character XML 1.0 allows (its `Char` production).
    static func isXMLCharacter(_ v: UInt32) -> Bool {
        v == 9 || v == 10 || v == 13 || (0x20...0xD7FF).contains(v) || (0xE000...0xFFFD).contains(v) || (0x10000...0x10FFFF).contains(v)
    }

    /// The offset of the first byte that is not well-formed UTF-8 or encodes a character XML
    /// forbids (controls other than tab, LF, CR; U+FFFE, U+FFFF). Plain ASCII 32 or 8 bytes at a time.
    static func firstInvalidByte(_ p: UnsafeBufferPointer<UInt8>) -> Int? {
        let n = p.count
        guard let base = p.baseAddress else { return nil }
        var i = 0
        @inline(__always) func continuation(_ k: Int) -> Bool { k < n && p[k] & 0xC0 == 0x80 }
        @inline(__always) func flags(_ w: UInt64) -> UInt64 { w | (w &- 0x2020_2020_2020_2020) }
        while i < n {
            // 32 plain ASCII bytes at a time (most of a listing), then 8.
            if i + 32 <= n {
                let r = UnsafeRawPointer(base + i)
                let any = flags(r.loadUnaligned(as: UInt64.self)) | flags(r.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                    | flags(r.loadUnaligned(fromByteOffset: 16, as: UInt64.self)) | flags(r.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
                if any & 0x8080_8080_8080_8080 == 0 {
                    i += 32
                    continue
                }
            }
            if i + 8 <= n {
                // No high bit and no byte below 0x20 in the eight: plain printable ASCII.
                if flags(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) & 0x8080_8080_8080_8080 == 0 {
                    i += 8
                    continue
                }
            }
            let b = p[i]
            if b < 0x80 {
                if b < 0x20 && b != 9 && b != 10 && b != 13 { return i }
                i += 1
                continue
            }
            switch b {
            case 0xC2...0xDF:
                guard continuation(i + 1) else { return i }
                i += 2
            case 0xE0...0xEF:
                guard i + 2 < n, continuation(i + 1), continuation(i + 2) else { return i }
                let b1 = p[i + 1]
                if b == 0xE0 && b1 < 0xA0 { return i }  // overlong
                if b == 0xED && b1 > 0x9F { return i }  // a surrogate
                if b == 0xEF && b1 == 0xBF && p[i + 2] >= 0xBE { return i }  // U+FFFE, U+FFFF
                i += 3
            case 0xF0...0xF4:
                guard i + 3 < n, continuation(i + 1), continuation(i + 2), continuation(i + 3) else { return i }
                let b1 = p[i + 1]
                if b == 0xF0 && b1 < 0x90 { return i }  // overlong
                if b == 0xF4 && b1 > 0x8F { return i }  // beyond U+10FFFF
                i += 4
            default:
                return i
            }
        }
        return nil
    }

    /// Parses UTF-8 text.
    static func parse(_ text: String) throws(XMLParseError) -> XMLNode {
        try parse(Array(text.utf8))
    }

    /// An open element: where its name is, and its own text, kept as a range of the input
    /// while it is one run without entities (the common case: no copy), otherwise in the
    /// cursor's text buffer of its depth. Plain values only: pushing and popping one retains
    /// and releases nothing.
    struct Open {
        var name: Range<Int>
        var run: Range<Int>?
        var usesBuffer = false
    }

    struct Cursor {
        let p: UnsafeBufferPointer<UInt8>
        var i = 0
        /// The text of the open element at each depth once it needs a buffer of its own (an
        /// entity: every ETag in a listing has `&quot;`; CDATA; a second run). Emptied, not
        /// freed, between elements: a few allocations per document, not one per element.
        var buffers: [[UInt8]] = []

        /// The offset of the next `byte` at or after `from` (or the end), by memchr.
        @inline(__always) func next(_ byte: UInt8, from: Int, to end: Int) -> Int {
            guard from < end, let base = p.baseAddress,
                  let hit = memchr(base + from, Int32(byte), end - from) else { return end }
            return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        }

        /// The offset of the first `<` or `&` at or after `from` (or the end): eight bytes at a
        /// time, inline (a leaf's text is a few dozen bytes, where two `memchr` calls cost more).
        @inline(__always) func nextMarkup(from: Int) -> Int {
            let n = p.count
            guard let base = p.baseAddress else { return n }
            var k = from
            while k + 8 <= n {
                let w = UnsafeRawPointer(base + k).loadUnaligned(as: UInt64.self)
                let lt = w ^ 0x3C3C_3C3C_3C3C_3C3C
                let amp = w ^ 0x2626_2626_2626_2626
                // A zero byte in either: the lowest flagged byte is exact.
                let hit = ((lt &- 0x0101_0101_0101_0101) & ~lt | (amp &- 0x0101_0101_0101_0101) & ~amp) & 0x8080_8080_8080_8080
                if hit != 0 { return k + hit.trailingZeroBitCount >> 3 }
                k += 8
            }
            while k < n && base[k] != UInt8(ascii: "<") && base[k] != UInt8(ascii: "&") { k += 1 }
            return k
        }

        func fail(_ reason: String) -> XMLParseError { XMLParseError(offset: i, reason: reason) }

        /// Whether the `count` bytes at `a` and `b` are equal: eight at a time, no call (the names
        /// and values compared are a few bytes long, where `memcmp`'s call costs more than the compare).
        @inline(__always) static func equalBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
            var k = 0
            while k + 8 <= count {
                if UnsafeRawPointer(a + k).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(b + k).loadUnaligned(as: UInt64.self) {
                    return false
                }
                k += 8
            }
            while k < count {
                if a[k] != b[k] { return false }
                k += 1
            }
            return true
        }

        @inline(__always) func peek(_ s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            guard i + n <= p.count else { return false }
            let base = s.utf8Start
            for k in 0..<n where p[i + k] != base[k] { return false }
            return true
        }

        mutating func skip(past s: StaticString) throws(XMLParseError) {
            while i < p.count {
                if peek(s) { i += s.utf8CodeUnitCount; return }
                i += 1
            }
            throw fail("unterminated construct, expected \(s)")
        }

        @inline(__always) static func isNameByte(_ b: UInt8) -> Bool {
            !(b == 32 || b == 9 || b == 10 || b == 13 || b == UInt8(ascii: ">") || b == UInt8(ascii: "/") || b == UInt8(ascii: "="))
        }

        @inline(__always) mutating func name() throws(XMLParseError) -> Range<Int> {
            let start = i
            var k = i
            let n = p.count
            // Eight bytes at a time while none is below `?`: every byte above `>` is a name byte
            // (letters, most of a name), and every byte that ends a name is `>` or below. The
            // lowest flagged byte of a word is exact (a borrow only runs upwards).
            if let base = p.baseAddress {
                while k + 8 <= n {
                    let w = UnsafeRawPointer(base + k).loadUnaligned(as: UInt64.self)
                    let low = (w &- 0x3F3F_3F3F_3F3F_3F3F) & ~w & 0x8080_8080_8080_8080
                    if low == 0 {
                        k += 8
                        continue
                    }
                    k += low.trailingZeroBitCount >> 3
                    break
                }
            }
            // Byte by byte from the first one at or below `>` (a digit, `-`, `.`, `:` go on).
            while k < n {
                let b = p[k]
                if b > UInt8(ascii: ">") || Self.isNameByte(b) { k += 1 } else { break }
            }
            i = k
            if k == start { throw fail("expected a name") }
            return start..<k
        }

        mutating func skipSpace() {
            while i < p.count, p[i] == 32 || p[i] == 9 || p[i] == 10 || p[i] == 13 { i += 1 }
        }

        /// Skips attributes up to `>` or `/>`; returns true when self-closing.
        mutating func endOfTag() throws(XMLParseError) -> Bool {
            while i < p.count {
                let b = p[i]
                if b == UInt8(ascii: ">") { i += 1; return false }
                if b == UInt8(ascii: "/") && i + 1 < p.count && p[i + 1] == UInt8(ascii: ">") { i += 2; return true }
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                    i += 1
                    while i < p.count && p[i] != b { i += 1 }
                    if i == p.count { throw fail("unterminated attribute value") }
                }
                i += 1
            }
            throw fail("unterminated tag")
        }

        mutating func appendText(until end: Int, to out: inout [UInt8]) throws(XMLParseError) {
            while i < end {
                if p[i] != UInt8(ascii: "&") {
                    // The run up to the next entity in one copy.
                    let amp = next(UInt8(ascii: "&"), from: i, to: end)
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: p[i..<amp]))
                    i = amp
                    continue
                }
                var j = i + 1
                while j < end && p[j] != UInt8(ascii: ";") && j - i < 12 { j += 1 }
                guard j < end, p[j] == UInt8(ascii: ";") else { throw fail("bad character reference") }
                let ref = UnsafeBufferPointer(rebasing: p[(i + 1)..<j])
                @inline(__always) func named(_ s: StaticString) -> Bool {
                    ref.count == s.utf8CodeUnitCount && memcmp(ref.baseAddress!, s.utf8Start, ref.count) == 0
                }
                if named("quot") { out.append(UInt8(ascii: "\"")); i = j + 1; continue }
                if named("amp") { out.append(UInt8(ascii: "&")); i = j + 1; continue }
                if named("lt") { out.append(UInt8(ascii: "<")); i = j + 1; continue }
                if named("gt") { out.append(UInt8(ascii: ">")); i = j + 1; continue }
                if named("apos") { out.append(UInt8(ascii: "'")); i = j + 1; continue }
                switch String(decoding: ref, as: UTF8.self) {
                case let r where r.hasPrefix("#"):
                    let hex = r.hasPrefix("#x") || r.hasPrefix("#X")
                    guard let v = UInt32(r.dropFirst(hex ? 2 : 1), radix: hex ? 16 : 10), XMLParser.isXMLCharacter(v),
                          let scalar = Unicode.Scalar(v) else {
                        throw fail("a numeric character reference to a character XML does not allow")
                    }
                    out.append(contentsOf: String(Character(scalar)).utf8)
                default:
                    throw fail("unknown entity")
                }
                i = j + 1
            }
        }

        /// Moves the text of the element open at `depth` from its input range to the buffer of
        /// that depth (a second run, an entity, CDATA).
        /// Makes the text buffer of `depth` exist and empties it (its capacity kept).
        mutating func emptyBuffer(at depth: Int) {
            while buffers.count <= depth { buffers.append([]) }
            buffers[depth].removeAll(keepingCapacity: true)
        }

        mutating func toBuffer(_ open: inout Open, depth: Int) {
            if open.usesBuffer { return }
            open.usesBuffer = true
            emptyBuffer(at: depth)
            if let run = open.run { buffers[depth].append(contentsOf: UnsafeBufferPointer(rebasing: p[run])) }
            open.run = nil
        }

        /// Adds the text `start..<end` to the element open at `depth`.
        mutating func addText(from start: Int, to end: Int, into open: inout Open, depth: Int) throws(XMLParseError) {
            let plain = next(UInt8(ascii: "&"), from: start, to: end) == end
            if plain && !open.usesBuffer && open.run == nil {
                open.run = start..<end
                i = end
                return
            }
            toBuffer(&open, depth: depth)
            var text: [UInt8] = []
            swap(&text, &buffers[depth])  // out of `self` while appendText moves the cursor; no copy
            defer { swap(&text, &buffers[depth]) }
            try appendText(until: end, to: &text)
        }

        /// Reads the whole document, telling `handler` of each element as it opens and closes
        /// (with its own text). One loop serves the tree (``XMLParser/parse(_:)``) and the pull
        /// decoders, so both refuse exactly the same inputs.
        mutating func walk<Handler: XMLEventHandler>(_ handler: inout Handler) throws(XMLParseError) {
            // The open elements: a fixed block (the depth is bounded), so pushing, popping and
            // adding text to the top are plain stores, with no array bookkeeping per tag.
            let stack = UnsafeMutablePointer<Open>.allocate(capacity: XMLParser.maximumDepth)
            defer { stack.deallocate() }
            var depth = 0
            var sawRoot = false
            while i < p.count {
                if p[i] != UInt8(ascii: "<") {
                    let end = next(UInt8(ascii: "<"), from: i, to: p.count)
                    if depth == 0 {
                        // Only whitespace may stand outside the root element.
                        for k in i..<end where !(p[k] == 32 || p[k] == 9 || p[k] == 10 || p[k] == 13) {
                            i = k
                            throw fail("text outside the root element")
                        }
                        i = end
                    } else {
                        try addText(from: i, to: end, into: &stack[depth - 1], depth: depth - 1)
                    }
                    continue
                }
                // One look at the byte after `<` tells which construct this is.
                let second = i + 1 < p.count ? p[i + 1] : 0
                if second == UInt8(ascii: "?") { try skip(past: "?>"); continue }
                if second == UInt8(ascii: "!") {
                    if peek("<!--") { try skip(past: "-->"); continue }
                    if peek("<![CDATA[") {
                        i += 9
                        let start = i
                        try skip(past: "]]>")
                        guard depth > 0 else { throw fail("CDATA outside the root element") }
                        toBuffer(&stack[depth - 1], depth: depth - 1)
                        buffers[depth - 1].append(contentsOf: UnsafeBufferPointer(rebasing: p[start..<(i - 3)]))
                        continue
                    }
                    try skip(past: ">")
                    continue
                }
                if second == UInt8(ascii: "/") {
                    i += 2
                    let base = p.baseAddress!
                    // The usual case: the name of the open element, then a byte that ends a name.
                    // Anything else is read as a name and compared the long way, for the same
                    // errors at the same offsets.
                    if depth > 0, case let expected = stack[depth - 1].name, i + expected.count < p.count,
                       !Self.isNameByte(p[i + expected.count]),
                       Self.equalBytes(base + i, base + expected.lowerBound, expected.count) {
                        i += expected.count
                    } else {
                        let n = try name()
                        guard depth > 0, case let expected = stack[depth - 1].name, expected.count == n.count,
                              Self.equalBytes(base + expected.lowerBound, base + n.lowerBound, n.count) else {
                            skipSpace()
                            guard i < p.count, p[i] == UInt8(ascii: ">") else { throw fail("bad closing tag") }
                            i += 1
                            throw fail("mismatched closing tag </\(String(decoding: UnsafeBufferPointer(rebasing: p[n]), as: UTF8.self))>")
                        }
                    }
                    if i < p.count, p[i] != UInt8(ascii: ">") { skipSpace() }
                    guard i < p.count, p[i] == UInt8(ascii: ">") else { throw fail("bad closing tag") }
                    i += 1
                    depth -= 1
                    let top = stack[depth]
                    let name = UnsafeBufferPointer(rebasing: p[top.name])
                    if let run = top.run {
                        try handler.close(name, depth: depth, text: UnsafeBufferPointer(rebasing: p[run]))
                    } else if top.usesBuffer {
                        let d = depth
                        try buffers[d].withUnsafeBufferPointer { (t) throws(XMLParseError) in try handler.close(name, depth: d, text: t) }
                    } else {
                        try handler.close(name, depth: depth, text: UnsafeBufferPointer(start: nil, count: 0))
                    }
                    continue
                }
                i += 1
                if sawRoot && depth == 0 { throw fail("a second root element") }
                if depth >= XMLParser.maximumDepth {
                    throw fail("elements nested deeper than \(XMLParser.maximumDepth) levels")
                }
                let n = try name()
                sawRoot = true
                let name = UnsafeBufferPointer(rebasing: p[n])
                try handler.open(name, depth: depth)
                if i < p.count, p[i] == UInt8(ascii: ">") {
                    // The usual case: no attributes, not self-closing.
                    i += 1
                    // Most elements of an answer are leaves, `<Key>text</Key>`: when its own
                    // closing tag follows the text, the element is told at once, in a straight
                    // line (what the general path would do in three turns of the loop, with the
                    // same result and the same errors). Text with references (every ETag's
                    // `&quot;`) is decoded into the buffer of its depth.
                    let base = p.baseAddress!
                    let stop = nextMarkup(from: i)
                    let plain = stop == p.count || p[stop] == UInt8(ascii: "<")
                    let lt = plain ? stop : next(UInt8(ascii: "<"), from: stop, to: p.count)
                    let after = lt + 2 + n.count
                    if after < p.count, p[lt + 1] == UInt8(ascii: "/"), p[after] == UInt8(ascii: ">"),
                       Self.equalBytes(base + lt + 2, base + n.lowerBound, n.count) {
                        if plain {
                            let text = lt == i ? UnsafeBufferPointer(start: nil, count: 0) : UnsafeBufferPointer(rebasing: p[i..<lt])
                            i = after + 1
                            try handler.close(name, depth: depth, text: text)
                        } else {
                            emptyBuffer(at: depth)
                            var text: [UInt8] = []
                            swap(&text, &buffers[depth])  // out of `self` while appendText moves the cursor; no copy
                            defer { swap(&text, &buffers[depth]) }
                            try appendText(until: lt, to: &text)
                            i = after + 1
                            let d = depth
                            try text.withUnsafeBufferPointer { (t) throws(XMLParseError) in try handler.close(name, depth: d, text: t) }
                        }
                        continue
                    }
                    (stack + depth).initialize(to: Open(name: n))
                    depth += 1
                } else if try endOfTag() {
                    try handler.close(name, depth: depth, text: UnsafeBufferPointer(start: nil, count: 0))
                } else {
                    (stack + depth).initialize(to: Open(name: n))
                    depth += 1
                }
            }
            if depth > 0 {
                let open = stack[depth - 1]
                throw fail("unclosed element <\(String(decoding: UnsafeBufferPointer(rebasing: p[open.name]), as: UTF8.self))>")
            }
            if !sawRoot { throw fail("no root element") }
        }

        mutating func document() throws(XMLParseError) -> XMLNode {
            var builder = TreeBuilder()
            try walk(&builder)
            guard let root = builder.root else { throw fail("no root element") }
            return root
        }
    }

    /// Parses `bytes` (checked as ``parse(_:)`` checks them), telling `handler` of every element.
    static func walk<Handler: XMLEventHandler>(_ bytes: [UInt8], _ handler: inout Handler) throws(XMLParseError) {
        try bytes.withUnsafeBufferPointer { (p) throws(XMLParseError) in
            if let bad = firstInvalidByte(p) {
                throw XMLParseError(offset: bad, reason: "not UTF-8, or a character XML does not allow")
            }
            var cursor = Cursor(p: p)
            try cursor.walk(&handler)
        }
    }
}

/// What a pull parse reports: each element as it opens and as it closes, with its own text
/// (entities decoded; text around child elements concatenated). The buffers are valid only
/// during the call.
protocol XMLEventHandler {
    /// An element opens at `depth` (0: the root).
    mutating func open(_ name: UnsafeBufferPointer<UInt8>, depth: Int) throws(XMLParseError)
    /// The element at `depth` closes.
    mutating func close(_ name: UnsafeBufferPointer<UInt8>, depth: Int, text: UnsafeBufferPointer<UInt8>) throws(XMLParseError)
}

/// Builds the ``XMLNode`` tree from a pull parse.
struct TreeBuilder: XMLEventHandler {
    private var stack: [(name: String, children: [XMLNode])] = []
    private(set) var root: XMLNode?

    mutating func open(_ name: UnsafeBufferPointer<UInt8>, depth: Int) {
        stack.append((String(decoding: name, as: UTF8.self), []))
    }

    mutating func close(_ name: UnsafeBufferPointer<UInt8>, depth: Int, text: UnsafeBufferPointer<UInt8>) {
        let top = stack.removeLast()
        let node = XMLNode(name: top.name, children: top.children, text: text.isEmpty ? "" : String(decoding: text, as: UTF8.self))
        if stack.isEmpty {
            root = node
        } else {
            // The first child reserves room for a typical record's fields (one allocation, not four).
            if stack[stack.count - 1].children.isEmpty { stack[stack.count - 1].children.reserveCapacity(8) }
            stack[stack.count - 1].children.append(node)
        }
    }
}

/// Builds the small XML bodies S3 requests carry, escaping text.
struct XMLWriter: Sendable {
    private(set) var bytes: [UInt8] = Array("<?xml version=\"1.0\" encoding=\"UTF-8\"?>".utf8)

    /// A writer holding only the XML declaration.
    init() {}

    /// Opens `<name>` (with the S3 namespace when `s3Namespace`).
    mutating func open(_ name: String, s3Namespace: Bool = false) {
        bytes.append(UInt8(ascii: "<"))
        bytes.append(contentsOf: name.utf8)
        if s3Namespace { bytes.append(contentsOf: " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"".utf8) }
        bytes.append(UInt8(ascii: ">"))
    }

    /// Closes `</name>`.
    mutating func close(_ name: String) {
        bytes.append(contentsOf: "</".utf8)
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: ">"))
    }

    /// `<name>text</name>`, text escaped.
    mutating func element(_ name: String, _ text: String) {
        open(name)
        Self.escape(text, into: &bytes)
        close(name)
    }

    /// Writes `node` and its children (text escaped; attributes are not kept by XMLNode).
    /// Walks the tree with its own stack, so no depth can exhaust the thread's.
    mutating func node(_ node: XMLNode) {
        var stack: [(node: XMLNode, next: Int)] = [(node, 0)]
        open(node.name)
        while let top = stack.last {
            if top.node.children.isEmpty {
                Self.escape(top.node.text, into: &bytes)
            } else if top.next < top.node.children.count {
                let child = top.node.children[top.next]
                stack[stack.count - 1].next += 1
                open(child.name)
                stack.append((child, 0))
                continue
            }
            close(top.node.name)
            stack.removeLast()
        }
    }

    /// The document.
    var data: [UInt8] { bytes }

    /// Escapes `&`, `<`, `>`, `"`, `'` and control characters as character references.
    static func escape(_ text: String, into out: inout [UInt8]) {
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): out.append(contentsOf: "&apos;".utf8)
            case 0..<32 where b != 9:
                out.append(contentsOf: "&#\(b);".utf8)
            default: out.append(b)
            }
        }
    }
}
