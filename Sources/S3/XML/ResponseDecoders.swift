import Foundation
import S3HTTP

/// ListObjectsV2 decoded straight from the bytes, as the parser reads them: no tree, no
/// string per element name, one `String` per key (an MD5 ETag is kept as `CompactETag`,
/// without one). The same answer as
/// ``ResponseDecoders/listPage(_:)`` on the tree, field for field (the fuzz target checks it on
/// every input): within `Contents` the last of a repeated field wins; the first `Prefix` of a
/// `CommonPrefixes`, and the first `IsTruncated`, `NextContinuationToken` and `KeyCount` count.
struct ListPageDecoder: XMLEventHandler {
    private(set) var root = ""
    private var objects: [S3ObjectSummary] = []
    private var prefixes: [String] = []
    private var current = S3ObjectSummary(key: "", size: 0)
    private var prefix: String?
    private var section = Section.other
    private var isTruncated: Bool?
    private var token: String??
    private var keyCount: String??

    private enum Section { case contents, prefixes, other }

    /// The decoded page.
    var page: ListObjectsV2Page {
        ListObjectsV2Page(objects: objects, commonPrefixes: prefixes, isTruncated: isTruncated ?? false,
                          nextContinuationToken: token ?? nil,
                          keyCount: (keyCount ?? nil).flatMap { Int($0) } ?? (objects.count + prefixes.count))
    }

    @inline(__always) private static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        bytes.count == s.utf8CodeUnitCount && XMLParser.Cursor.equalBytes(bytes.baseAddress!, s.utf8Start, bytes.count)
    }

    private static func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        bytes.isEmpty ? "" : String(decoding: bytes, as: UTF8.self)
    }

    mutating func open(_ name: UnsafeBufferPointer<UInt8>, depth: Int) {
        if depth == 0 {
            root = Self.string(name)
        } else if depth == 1 {
            if Self.equals(name, "Contents") {
                section = .contents
                current = S3ObjectSummary(key: "", size: 0)
            } else if Self.equals(name, "CommonPrefixes") {
                section = .prefixes
                prefix = nil
            } else {
                section = .other
            }
        }
    }

    mutating func close(_ name: UnsafeBufferPointer<UInt8>, depth: Int, text: UnsafeBufferPointer<UInt8>) {
        if depth == 2 {
            switch section {
            case .contents:
                // By length first: most names are ruled out without a compare.
                switch name.count {
                case 3:
                    if Self.equals(name, "Key") { current.key = Self.string(text) }
                case 4:
                    if Self.equals(name, "Size") {
                        current.size = Self.integer(text) ?? 0
                    } else if Self.equals(name, "ETag") {
                        current.storedETag = Self.unquotedETag(text)
                    }
                case 12:
                    if Self.equals(name, "LastModified") {
                        current.lastModified = S3Dates.parseISO8601(bytes: text)
                    } else if Self.equals(name, "StorageClass") {
                        current.storageClass = Self.equals(text, "STANDARD") ? "STANDARD" : Self.string(text)
                    }
                default:
                    break
                }
            case .prefixes:
                if prefix == nil, Self.equals(name, "Prefix") { prefix = Self.string(text) }
            case .other:
                break
            }
        } else if depth == 1 {
            switch section {
            case .contents:
                // Moved into the page, not copied (no retain of its strings, no release of the old).
                var done = S3ObjectSummary(key: "", size: 0)
                swap(&done, &current)
                objects.append(done)
            case .prefixes: if let prefix { prefixes.append(prefix) }
            case .other:
                if isTruncated == nil, Self.equals(name, "IsTruncated") {
                    isTruncated = Self.equals(text, "true")
                } else if token == nil, Self.equals(name, "NextContinuationToken") {
                    token = .some(Self.string(text))
                } else if keyCount == nil, Self.equals(name, "KeyCount") {
                    keyCount = .some(Self.string(text))
                    // S3 sends it before the keys: room for them at once (a hint, never trusted beyond 1,000).
                    if objects.isEmpty, let n = Self.integer(text) { objects.reserveCapacity(Int(min(max(n, 0), 1000))) }
                }
            }
            section = .other
        }
    }

    /// `Int64(text)`, digits parsed in place (anything else goes through `Int64(String)`).
    private static func integer(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard !text.isEmpty, text.count <= 18 else { return Int64(string(text)) }
        var v: Int64 = 0
        for b in text {
            guard b >= 0x30 && b <= 0x39 else { return Int64(string(text)) }
            v = v * 10 + Int64(b - 0x30)
        }
        return v
    }

    /// ``S3Client/unquote(_:)`` without the intermediate strings in the usual case (`"..."`),
    /// kept compactly (no allocation for an MD5 ETag).
    private static func unquotedETag(_ text: UnsafeBufferPointer<UInt8>) -> CompactETag {
        let quote = UInt8(ascii: "\"")
        if text.count >= 2, text[0] == quote, text[text.count - 1] == quote {
            return CompactETag(bytes: UnsafeBufferPointer(rebasing: text[1..<(text.count - 1)]))
        }
        return CompactETag(S3Client.unquote(string(text)))
    }
}

/// Every response body S3 answers with, decoded from its parsed XML into the library's values.
/// Pure functions: the operations call them after ``XMLParser`` and the root check, the fuzz
/// target (``S3ResponseFuzzing``) calls all of them on any input, the unit tests on examples.
enum ResponseDecoders {
    /// A ListObjectsV2 page.
    static func listPage(_ xml: XMLNode) -> ListObjectsV2Page {
        var objects: [S3ObjectSummary] = []
        var prefixes: [String] = []
        objects.reserveCapacity(xml.children.count)
        for child in xml.children {
            switch child.name {
            case "Contents":
                var o = S3ObjectSummary(key: "", size: 0)
                for f in child.children {
                    switch f.name {
                    case "Key": o.key = f.text
                    case "Size": o.size = Int64(f.text) ?? 0
                    case "ETag": o.eTag = S3Client.unquote(f.text)
                    case "LastModified": o.lastModified = S3Dates.parseISO8601(f.text)
                    case "StorageClass": o.storageClass = f.text
                    default: break
                    }
                }
                objects.append(o)
            case "CommonPrefixes":
                if let p = child.value("Prefix") { prefixes.append(p) }
            default:
                break
            }
        }
        return ListObjectsV2Page(
            objects: objects, commonPrefixes: prefixes, isTruncated: xml.value("IsTruncated") == "true",
            nextContinuationToken: xml.value("NextContinuationToken"),
            keyCount: Int(xml.value("KeyCount") ?? "") ?? (objects.count + prefixes.count))
    }

    /// ListBuckets.
    static func buckets(_ xml: XMLNode) -> [S3BucketSummary] {
        (xml.child("Buckets")?.children("Bucket") ?? []).compactMap { b in
            guard let name = b.value("Name") else { return nil }
            return S3BucketSummary(name: name, creationDate: b.value("CreationDate").flatMap(S3Dates.parseISO8601))
        }
    }

    /// GetBucketLifecycleConfiguration.
    static func lifecycleRules(_ xml: XMLNode) -> [S3LifecycleRule] {
        xml.children("Rule").map(S3LifecycleRule.init(xml:))
    }

    /// DeleteObjects: the keys that could not be deleted.
    static func deleteFailures(_ xml: XMLNode) -> [S3DeleteFailure] {
        xml.children("Error").map {
            S3DeleteFailure(key: $0.value("Key") ?? "", versionID: $0.value("VersionId"),
                            code: $0.value("Code") ?? "", message: $0.value("Message") ?? "")
        }
    }

    /// ListObjectVersions: versions and delete markers, and the next page's markers.
    static func versions(_ xml: XMLNode) -> (versions: [S3ObjectVersion], nextKeyMarker: String?, nextVersionIDMarker: String?) {
        var versions: [S3ObjectVersion] = []
        for child in xml.children where child.name == "Version" || child.name == "DeleteMarker" {
            if let key = child.value("Key") {
                versions.append(S3ObjectVersion(key: key, versionID: child.value("VersionId") ?? "null", isDeleteMarker: child.name == "DeleteMarker",
                                                isLatest: child.value("IsLatest") == "true", size: child.value("Size").flatMap { Int64($0) },
                                                eTag: child.value("ETag").map(S3Client.unquote),
                                                lastModified: child.value("LastModified").flatMap(S3Dates.parseISO8601)))
            }
        }
        let truncated = xml.value("IsTruncated") == "true"
        return (versions, truncated ? xml.value("NextKeyMarker") : nil, truncated ? xml.value("NextVersionIdMarker") : nil)
    }

    /// ListMultipartUploads.
    static func multipartUploads(_ xml: XMLNode) -> (uploads: [S3MultipartUploadSummary], nextKeyMarker: String?, nextUploadIDMarker: String?) {
        let uploads = xml.children("Upload").compactMap { u -> S3MultipartUploadSummary? in
            guard let key = u.value("Key"), let id = u.value("UploadId") else { return nil }
            return S3MultipartUploadSummary(key: key, uploadID: id, initiated: u.value("Initiated").flatMap(S3Dates.parseISO8601))
        }
        let truncated = xml.value("IsTruncated") == "true"
        return (uploads, truncated ? xml.value("NextKeyMarker") : nil, truncated ? xml.value("NextUploadIdMarker") : nil)
    }

    /// CreateMultipartUpload: the upload ID, nil when missing or empty.
    static func uploadID(_ xml: XMLNode) -> String? {
        guard let id = xml.value("UploadId"), !id.isEmpty else { return nil }
        return id
    }

    /// CompleteMultipartUpload: the object's ETag.
    static func completedETag(_ xml: XMLNode) -> String? { xml.value("ETag").map(S3Client.unquote) }

    /// ListParts: one page of parts and the next page's marker.
    static func parts(_ xml: XMLNode) -> (parts: [S3CompletedPart], nextMarker: String?) {
        var parts: [S3CompletedPart] = []
        for p in xml.children("Part") {
            if let n = p.value("PartNumber").flatMap({ Int($0) }), let eTag = p.value("ETag") {
                let checksum = S3ChecksumAlgorithm.allCases.lazy.compactMap { a in
                    p.value(a.elementName).flatMap { $0.isEmpty ? nil : S3Checksum(algorithm: a, value: $0) }
                }.first
                parts.append(S3CompletedPart(partNumber: n, eTag: S3Client.unquote(eTag), checksum: checksum,
                                             size: p.value("Size").flatMap { Int64($0) }))
            }
        }
        return (parts, xml.value("IsTruncated") == "true" ? xml.value("NextPartNumberMarker") : nil)
    }
}

/// The fuzz target's entry point (see `Sources/s3-fuzz` and `scripts/fuzz`): feeds any bytes to
/// the XML parser and every response decoder, as a body and as header values. Not API.
@_spi(Fuzzing)
public enum S3ResponseFuzzing {
    /// Parses and decodes one ListObjectsV2 page (the list-parsing benchmark's unit of work):
    /// the pull decoder the client uses.
    public static func decodeListPage(_ bytes: [UInt8]) throws -> ListObjectsV2Page {
        var decoder = ListPageDecoder()
        try XMLParser.walk(bytes, &decoder)
        return decoder.page
    }

    /// The same page through the tree and the tree decoder (the benchmark's baseline).
    public static func decodeListPageViaTree(_ bytes: [UInt8]) throws -> ListObjectsV2Page {
        ResponseDecoders.listPage(try XMLParser.parse(bytes))
    }

    /// Decodes `bytes` every way a response can be decoded; must never crash or hang.
    public static func exercise(_ bytes: [UInt8]) {
        for status in [200, 404, 503] {
            _ = S3Client.mapError(status: status, headers: HTTPHeaders(), body: bytes, method: "GET", bucket: "b", key: "k")
        }
        // The pull decoder refuses what the parser refuses and otherwise agrees with the tree decoder.
        var pull = ListPageDecoder()
        let pulled: Bool
        do {
            try XMLParser.walk(bytes, &pull)
            pulled = true
        } catch {
            pulled = false
        }
        if pulled != ((try? XMLParser.parse(bytes)) != nil) {
            fatalError("the pull decoder and the tree parser disagree on whether the input is XML")
        }
        if let xml = try? XMLParser.parse(bytes) {
            guard ResponseDecoders.listPage(xml) == pull.page, pull.root == xml.name else {
                fatalError("the pull decoder's ListObjectsV2 page differs from the tree decoder's")
            }
            _ = ResponseDecoders.buckets(xml)
            _ = ResponseDecoders.lifecycleRules(xml).map { ($0.id, $0.expirationDays) }
            _ = ResponseDecoders.deleteFailures(xml)
            _ = ResponseDecoders.versions(xml)
            _ = ResponseDecoders.multipartUploads(xml)
            _ = ResponseDecoders.uploadID(xml)
            _ = ResponseDecoders.completedETag(xml)
            _ = ResponseDecoders.parts(xml)
            _ = ResponseDecoders.objectAttributes(xml)
            _ = try? ResponseDecoders.objectLockConfiguration(xml)
            _ = try? ResponseDecoders.objectRetention(xml)
            _ = ResponseDecoders.legalHold(xml)
            _ = try? ResponseDecoders.objectOwnership(xml)
            // A CORS rule read from a response writes back as the element it was read from.
            if let rules = try? ResponseDecoders.corsRules(xml) {
                for rule in rules where S3CORSRule(xml: rule.xml) != rule {
                    fatalError("a CORS rule read from XML reads back differently once written")
                }
            }
            // What the writer makes of a parsed tree, the parser reads back as the same tree.
            var writer = XMLWriter()
            writer.node(xml)
            guard let again = try? XMLParser.parse(writer.data), sameShape(xml, again) else {
                fatalError("XMLWriter's output of a parsed document does not parse back to the same elements")
            }
        }
        // Header values: Content-Range, dates, ETags, object attributes.
        let text = String(decoding: bytes.prefix(256), as: UTF8.self)
        _ = S3Client.parseContentRange(text)
        if let date = S3Dates.parseHTTPDate(text), S3Dates.parseHTTPDate(S3Dates.httpDate(date)) != date {
            fatalError("an HTTP date read does not read back the same once written")
        }
        _ = S3Dates.parseISO8601(text)
        _ = S3Client.unquote(text)
        _ = S3Client.attributes(from: HTTPHeaders([("Content-Length", text), ("ETag", text), ("Last-Modified", text),
                                                   ("x-amz-meta-" + text.filter(\.isLetter), text)]))
        // Checksum headers: any value, with or without a type, against any ETag.
        for algorithm in S3ChecksumAlgorithm.allCases {
            let checksum = S3Checksum.from(HTTPHeaders([(algorithm.headerName, text), ("x-amz-checksum-type", text), ("ETag", text)]))
            _ = checksum?.bytes
            _ = checksum?.crcValue
        }
        // Globs of sync filters and wildcards: the first half of the input as a pattern, the
        // rest as a path; it must end (no runaway backtracking) and agree with itself.
        let half = bytes.count / 2
        let pattern = String(decoding: bytes.prefix(min(half, 128)), as: UTF8.self)
        let path = String(decoding: bytes.dropFirst(half).prefix(256), as: UTF8.self)
        let matched = S3SyncFilter.matches(path, pattern: pattern)
        if S3SyncFilter.matches(path, pattern: "*" + pattern) == false && matched {
            fatalError("a glob matched a path but the same glob after * did not")
        }
        _ = S3KeyOrder.pathComponents.precedes(pattern, path)
        _ = S3KeyOrder.of(page: [pattern, path, text])
        exerciseResponseHead(bytes)
        exerciseChunkedBody(bytes)
    }

    /// The chunked body reader of the direct path: the same bytes give the same body and the
    /// same outcome whether they come at once, a byte at a time, or split where the input says;
    /// a body it read, sent again as one chunk, reads back the same.
    static func exerciseChunkedBody(_ bytes: [UInt8]) {
        func run(_ pieces: [ArraySlice<UInt8>]) -> ([UInt8], ChunkedDecoder.Outcome) {
            var decoder = ChunkedDecoder()
            var out: [UInt8] = []
            var offset = 0
            for piece in pieces {
                let outcome = piece.withUnsafeBytes { decoder.decode($0, into: &out) }
                switch outcome {
                case .finished(let consumed): return (out, .finished(consumed: offset + consumed))
                case .invalid: return (out, .invalid(""))
                case .more: offset += piece.count
                }
            }
            return (out, .more)
        }
        let whole = run([bytes[...]])
        let single = run(bytes.indices.map { bytes[$0...$0] })
        let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        let split = run([bytes[..<cut], bytes[cut...]])
        guard whole.0 == single.0, whole.1 == single.1, whole.0 == split.0, whole.1 == split.1 else {
            fatalError("the chunked decoder's result depends on how its input was split")
        }
        if case .finished = whole.1 {
            // An empty body is the last chunk alone (a chunk of size 0 would end the body).
            let again = whole.0.isEmpty ? Array("0\r\n\r\n".utf8)
                : Array(String(whole.0.count, radix: 16).utf8) + [13, 10] + whole.0 + Array("\r\n0\r\n\r\n".utf8)
            let reread = run([again[...]])
            guard reread.0 == whole.0, reread.1 == .finished(consumed: again.count) else {
                fatalError("a chunked body read back differently once written as one chunk")
            }
        }
    }

    /// The HTTP/1.1 response head parser of direct receive: a head ends at its first blank
    /// line, so the bytes up to its end parse to the same head and one byte fewer to none.
    static func exerciseResponseHead(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { all in
            guard case .head(let head) = DirectHTTP.parseHead(all) else { return }
            guard head.length >= 1, head.length <= all.count, (100...999).contains(head.status) else {
                fatalError("a parsed response head has a length or status out of range")
            }
            let exact = UnsafeRawBufferPointer(rebasing: all[0..<head.length])
            guard case .head(let again) = DirectHTTP.parseHead(exact), again.length == head.length, again.status == head.status,
                  again.contentLength == head.contentLength, again.fields.count == head.fields.count else {
                fatalError("a response head parses differently without the bytes after it")
            }
            if case .head = DirectHTTP.parseHead(UnsafeRawBufferPointer(rebasing: all[0..<(head.length - 1)])) {
                fatalError("a response head parsed before its blank line")
            }
        }
    }

    /// Same element names in the same places, and the same text in each leaf (iteratively).
    static func sameShape(_ a: XMLNode, _ b: XMLNode) -> Bool {
        var pairs = [(a, b)]
        while let (x, y) = pairs.popLast() {
            guard x.name == y.name, x.children.count == y.children.count else { return false }
            if x.children.isEmpty && x.text != y.text { return false }
            pairs += zip(x.children, y.children).map { ($0, $1) }
        }
        return true
    }
}
