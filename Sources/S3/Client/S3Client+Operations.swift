import Foundation
import S3HTTP
import S3Signing

extension S3Client {
    // MARK: - Buckets

    /// Creates `bucket`. Outside `us-east-1` it sends a `LocationConstraint` for the
    /// configured region. `objectLockEnabled` creates it with S3 Object Lock (and so with
    /// versioning on): see ``setObjectLockConfiguration(bucket:defaultRetention:)``.
    public func createBucket(_ bucket: String, objectLockEnabled: Bool = false) async throws {
        try Validation.bucketName(bucket)
        var r = S3Request("PUT", bucket: bucket)
        if objectLockEnabled { r.headers.set("x-amz-bucket-object-lock-enabled", "true") }
        if configuration.region != "us-east-1" {
            var xml = XMLWriter()
            xml.open("CreateBucketConfiguration", s3Namespace: true)
            xml.element("LocationConstraint", configuration.region)
            xml.close("CreateBucketConfiguration")
            r.setBody(xml.data, contentType: "application/xml")
        }
        _ = try await sendAndCollect(r)
    }

    /// Succeeds when `bucket` exists and is reachable; throws `.noSuchBucket` otherwise.
    public func headBucket(_ bucket: String) async throws {
        try Validation.bucketName(bucket)
        _ = try await sendAndCollect(S3Request("HEAD", bucket: bucket))
    }

    /// Deletes an empty bucket.
    public func deleteBucket(_ bucket: String) async throws {
        try Validation.bucketName(bucket)
        _ = try await sendAndCollect(S3Request("DELETE", bucket: bucket))
    }

    /// Every bucket of the account (one ListBuckets call).
    public func listBuckets() async throws -> [S3BucketSummary] {
        let body = try await sendAndCollect(S3Request("GET")).body
        let xml = try parse(body, expecting: "ListAllMyBucketsResult", bucket: nil, key: nil)
        return ResponseDecoders.buckets(xml)
    }

    // MARK: - Objects

    /// Stores `bytes` under `key` in one PUT (the body is hashed and signed). With
    /// `conditions` (``S3Conditions/createOnly``, ``S3Conditions/ifMatch(_:)``) the store writes
    /// only when they hold, else `.preconditionFailed` and nothing is written.
    @discardableResult
    public func putObject(bucket: String, key: String, bytes: [UInt8], contentType: String = "application/octet-stream",
                          metadata: [String: String] = [:], conditions: S3Conditions? = nil,
                          properties: S3ObjectProperties = S3ObjectProperties()) async throws -> S3PutObjectResult {
        var r = try objectRequest("PUT", bucket: bucket, key: key, metadata: metadata, conditions: conditions, properties: properties)
        r.body = .bytes(bytes)
        r.headers.set("Content-Type", contentType)
        try checkPayloadProtection(bucket: bucket, key: key)
        try bytes.withUnsafeBytes { try protectPayload(&r, $0) }
        return try await put(r)
    }

    /// Stores `length` bytes of an open file from `offset` under `key` in one PUT, read as they
    /// are sent (`UNSIGNED-PAYLOAD`: the file is not hashed with SHA-256). With checksums on
    /// (the default) the file is first read once for its CRC (about 6-10 GB/s from the page
    /// cache), which the store verifies; on a store without checksum headers, for its
    /// `Content-MD5` instead.
    @discardableResult
    public func putObject(bucket: String, key: String, fileDescriptor: Int32, offset: Int64 = 0, length: Int64,
                          contentType: String = "application/octet-stream", metadata: [String: String] = [:],
                          conditions: S3Conditions? = nil, properties: S3ObjectProperties = S3ObjectProperties()) async throws -> S3PutObjectResult {
        guard offset >= 0, length >= 0 else { throw S3Error.invalidArgument("file offset and length must not be negative", bucket: bucket, key: key) }
        var r = try objectRequest("PUT", bucket: bucket, key: key, metadata: metadata, conditions: conditions, properties: properties)
        r.body = .file(descriptor: fileDescriptor, offset: offset, length: length)
        r.payloadHash = SigV4Payload.unsigned
        r.headers.set("Content-Type", contentType)
        if let algorithm = try configuration.uploadChecksum(bucket: bucket, key: key) {
            var running = RunningChecksum(algorithm)
            try Self.readFile(fileDescriptor, offset: offset, length: length, bucket: bucket, key: key) { running.update($0) }
            r.setChecksum(running.finish())
        } else if configuration.checksums == .whenSupported || r.setsObjectLock {
            let md5 = IncrementalDigest(.md5)
            try Self.readFile(fileDescriptor, offset: offset, length: length, bucket: bucket, key: key) { md5.update($0) }
            r.headers.set("Content-MD5", Data(md5.finalize()).base64EncodedString())
        }
        return try await put(r)
    }

    /// Reads `length` bytes of a file from `offset` in 1 MiB blocks, handing each to `body`.
    static func readFile(_ fd: Int32, offset: Int64, length: Int64, bucket: String, key: String,
                         _ body: (UnsafeRawBufferPointer) -> Void) throws {
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { block.deallocate() }
        var done: Int64 = 0
        while done < length {
            let n = pread(fd, block.baseAddress, Int(min(Int64(block.count), length - done)), off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw S3Error.invalidArgument("reading the file to upload failed at byte \(offset + done) (did it shrink?)", bucket: bucket, key: key)
            }
            body(UnsafeRawBufferPointer(rebasing: block[..<n]))
            done += Int64(n)
        }
    }

    private func put(_ request: S3Request) async throws -> S3PutObjectResult {
        var r = request
        Self.addCustomerKey(to: &r)
        let response = try await sendAndCollect(r)
        return S3PutObjectResult(eTag: response.head.headers["etag"].map(Self.unquote), versionID: response.head.headers["x-amz-version-id"],
                                 attempts: response.attempts)
    }

    /// Starts a GET and returns once the headers are in; the body streams. `range` selects
    /// bytes (inclusive offsets), `ifMatch` fails with `.preconditionFailed` when the ETag differs,
    /// `versionID` reads that version (on a versioned bucket).
    public func getObject(bucket: String, key: String, range: ClosedRange<Int64>? = nil, ifMatch: String? = nil,
                          versionID: String? = nil) async throws -> S3ObjectDownload {
        try await getObject(bucket: bucket, key: key, range: range, ifMatch: ifMatch, into: nil, versionID: versionID)
    }

    /// A conditional GET: ``S3ConditionalResult/notModified(eTag:)`` when `If-None-Match` matched
    /// or the object did not change since `ifModifiedSince` (HTTP 304); `.preconditionFailed`
    /// thrown when `ifMatch` or `ifUnmodifiedSince` did not hold.
    public func getObject(bucket: String, key: String, range: ClosedRange<Int64>?,
                          conditions: S3Conditions) async throws -> S3ConditionalResult<S3ObjectDownload> {
        let headers = try conditions.headers(for: "GET", bucket: bucket, key: key)
        do {
            return .value(try await getObject(bucket: bucket, key: key, range: range, ifMatch: nil, into: nil, conditions: headers))
        } catch let e as S3Error where e.code == .notModified {
            return .notModified(eTag: e.eTag)
        }
    }

    /// `getObject`, with the body of a successful response written straight into `buffer` or
    /// into `file` (the returned body stream then yields nothing and ends when the bytes are in).
    func getObject(bucket: String, key: String, range: ClosedRange<Int64>?, ifMatch: String?, into buffer: PartBuffer?,
                   file: ResponseFileRange? = nil, conditions: [(String, String)] = [], versionID: String? = nil) async throws
        -> S3ObjectDownload {
        var r = try objectRequest("GET", bucket: bucket, key: key)
        try Self.addVersion(versionID, to: &r)
        Self.addCustomerKey(to: &r)
        for (name, value) in conditions { r.headers.set(name, value) }
        r.responseBuffer = buffer
        r.responseBufferStart = buffer?.count ?? 0
        r.responseFile = file
        if let range {
            guard range.lowerBound >= 0 else { throw S3Error.invalidArgument("range must not start below 0", bucket: bucket, key: key) }
            guard range.upperBound >= range.lowerBound else { throw S3Error.invalidArgument("range is empty", bucket: bucket, key: key) }
            r.headers.set("Range", "bytes=\(range.lowerBound)-\(range.upperBound)")
            r.check = { head throws(S3Error) in try Self.checkRangedResponse(head, asked: range, bucket: bucket, key: key) }
        }
        if let ifMatch { r.headers.set("If-Match", "\"" + Self.unquote(ifMatch) + "\"") }
        if configuration.validatesReads { r.headers.set("x-amz-checksum-mode", "ENABLED") }
        let response: S3Response
        do {
            response = try await send(r)
        } catch let e as S3Error where e.code == .noSuchKey || (e.code == .HTTP404 && e.httpStatus == 404) {
            throw try await disambiguate404(e, bucket: bucket)
        }
        var attributes = Self.attributes(from: response.headers)
        let contentRange = response.headers["content-range"]
        if let contentRange, let slash = contentRange.lastIndex(of: "/"), let total = Int64(contentRange[contentRange.index(after: slash)...]) {
            attributes.size = total
        }
        var body = S3ByteStream(body: response.body, bucket: bucket, key: key)
        // The whole object came: check it at its end against its checksum; a composite one
        // (a checksum of the parts' checksums) once the parts' sizes are known.
        if configuration.validatesReads, range == nil, contentRange == nil, let checksum = attributes.checksum {
            body.expected = checksum
            if case .composite(let count) = checksum.kind {
                let (total, eTag) = (attributes.size, attributes.eTag)
                body.partSizes = { [self] in try await self.partSizes(bucket: bucket, key: key, count: count, total: total, eTag: eTag) }
            }
        }
        return S3ObjectDownload(attributes: attributes, body: body, contentRange: contentRange, attempts: response.attempts)
    }

    /// A ranged GET must answer 206 with exactly the bytes asked for (cut at the object's end),
    /// or 200 when the whole object is what was asked for (a store that ignores `Range` on a
    /// small object). Anything else would splice wrong bytes into the caller's data.
    static func checkRangedResponse(_ head: HTTPResponseHead, asked range: ClosedRange<Int64>, bucket: String, key: String) throws(S3Error) {
        func invalid(_ why: String) -> S3Error {
            S3Error(code: .invalidResponse, message: "the ranged GET of bytes \(range.lowerBound)-\(range.upperBound) was answered with \(why)",
                    httpStatus: head.status, requestID: head.headers["x-amz-request-id"], bucket: bucket, key: key)
        }
        let length = head.headers["content-length"].flatMap { Int64($0) }
        if head.status == 200 {
            guard range.lowerBound == 0, let length, length <= Int64(range.count) else {
                var e = invalid("200 and \(length.map { "\($0) bytes" } ?? "a body of unknown length"), not the range")
                // Fewer bytes than asked for, and not the start of the object: no store that ignores
                // Range answers so (it sends the whole object). A failing one did (an empty 200
                // from a SeaweedFS gateway whose chunk lookup failed): sent again, it may answer
                // right. The whole object instead of a range is not retried: it would come again.
                if range.lowerBound > 0, let length, length < Int64(range.count) { e.transientAnswer = true }
                throw e
            }
            return
        }
        guard head.status == 206 else { throw invalid("status \(head.status)") }
        guard let text = head.headers["content-range"], let parsed = parseContentRange(text) else {
            throw invalid("206 without a valid Content-Range")
        }
        let expectedLast = parsed.total.map { min(range.upperBound, $0 - 1) } ?? range.upperBound
        guard parsed.first == range.lowerBound, parsed.last == expectedLast || (parsed.total == nil && parsed.last <= range.upperBound) else {
            throw invalid("Content-Range \(text)")
        }
        if let length, length != parsed.last - parsed.first + 1 { throw invalid("Content-Range \(text) but \(length) bytes") }
    }

    /// `bytes FIRST-LAST/TOTAL` (TOTAL may be `*`).
    static func parseContentRange(_ text: String) -> (first: Int64, last: Int64, total: Int64?)? {
        guard text.hasPrefix("bytes ") else { return nil }
        let rest = text.dropFirst(6)
        guard let dash = rest.firstIndex(of: "-"), let slash = rest.firstIndex(of: "/"), dash < slash,
              let first = Int64(rest[..<dash]), let last = Int64(rest[rest.index(after: dash)..<slash]), first <= last else { return nil }
        let totalText = rest[rest.index(after: slash)...]
        if totalText == "*" { return (first, last, nil) }
        guard let total = Int64(totalText), last < total else { return nil }
        return (first, last, total)
    }

    /// Size, ETag, date, type and metadata of an object, without its body. A missing object is
    /// `.noSuchKey`; a missing bucket `.noSuchBucket` (HEAD responses carry no error body, so
    /// a 404 is followed by one HEAD of the bucket to tell the two apart).
    public func headObject(bucket: String, key: String) async throws -> S3ObjectHead {
        try await headObject(bucket: bucket, key: key, partNumber: nil, ifMatch: nil)
    }

    /// HEAD of one version of an object (`versionID` nil: the current one).
    public func headObject(bucket: String, key: String, versionID: String?) async throws -> S3ObjectHead {
        try await headObject(bucket: bucket, key: key, partNumber: nil, ifMatch: nil, versionID: versionID)
    }

    /// A conditional HEAD: ``S3ConditionalResult/notModified(eTag:)`` on HTTP 304,
    /// `.preconditionFailed` thrown when `ifMatch` or `ifUnmodifiedSince` did not hold.
    public func headObject(bucket: String, key: String, conditions: S3Conditions) async throws -> S3ConditionalResult<S3ObjectHead> {
        let headers = try conditions.headers(for: "HEAD", bucket: bucket, key: key)
        do {
            return .value(try await headObject(bucket: bucket, key: key, partNumber: nil, ifMatch: nil, conditions: headers))
        } catch let e as S3Error where e.code == .notModified {
            return .notModified(eTag: e.eTag)
        }
    }

    /// HEAD, of one part (`partNumber`) or with `If-Match` when given.
    func headObject(bucket: String, key: String, partNumber: Int?, ifMatch: String?,
                    conditions: [(String, String)] = [], versionID: String? = nil) async throws -> S3ObjectHead {
        var r = try objectRequest("HEAD", bucket: bucket, key: key)
        try Self.addVersion(versionID, to: &r)
        Self.addCustomerKey(to: &r)
        for (name, value) in conditions { r.headers.set(name, value) }
        if configuration.validatesReads { r.headers.set("x-amz-checksum-mode", "ENABLED") }
        if let partNumber { r.query.append(("partNumber", String(partNumber))) }
        if let ifMatch { r.headers.set("If-Match", "\"" + Self.unquote(ifMatch) + "\"") }
        do {
            let head = try await sendAndCollect(r).head
            return Self.attributes(from: head.headers)
        } catch let e as S3Error where e.httpStatus == 404 {
            throw try await disambiguate404(e, bucket: bucket)
        }
    }

    /// Deletes an object. Deleting a missing key succeeds, as in S3. With `conditions`
    /// (``S3Conditions/ifMatch(_:)``) only the version whose ETag matches is deleted, else
    /// `.preconditionFailed`. A version under Object Lock retention is refused (`AccessDenied`)
    /// unless its mode is governance and `bypassGovernanceRetention` is set (which needs the
    /// `s3:BypassGovernanceRetention` permission); a legal hold or compliance mode always refuses.
    public func deleteObject(bucket: String, key: String, versionID: String? = nil, conditions: S3Conditions? = nil,
                             bypassGovernanceRetention: Bool = false) async throws {
        var r = try objectRequest("DELETE", bucket: bucket, key: key, conditions: conditions)
        try Self.addVersion(versionID, to: &r)
        if bypassGovernanceRetention { r.headers.set("x-amz-bypass-governance-retention", "true") }
        _ = try await sendAndCollect(r)
    }

    /// Adds the SSE-C key in effect (``S3Client/withCustomerKey(_:operation:)``) to a request
    /// that reads or writes an object's bytes, unless it already names a key or another
    /// encryption (a write with ``S3ObjectProperties/encryption`` set).
    static func addCustomerKey(to r: inout S3Request) {
        guard let key = S3CustomerKey.current, !r.headers.contains("x-amz-server-side-encryption-customer-key"),
              !r.headers.contains("x-amz-server-side-encryption") else { return }
        for (name, value) in key.headers() { r.headers.set(name, value) }
    }

    /// Adds `?versionId=` to an object request.
    static func addVersion(_ versionID: String?, to r: inout S3Request) throws(S3Error) {
        guard let versionID else { return }
        guard !versionID.isEmpty, versionID.utf8.count <= 1024 else {
            throw S3Error.invalidArgument("a version ID must be 1 to 1,024 bytes", bucket: r.bucket, key: r.key)
        }
        r.query.append(("versionId", versionID))
    }

    /// One page of ListObjectsV2.
    public func listObjectsV2(bucket: String, prefix: String? = nil, delimiter: String? = nil, maxKeys: Int? = nil,
                              continuationToken: String? = nil, startAfter: String? = nil) async throws -> ListObjectsV2Page {
        try Validation.bucketName(bucket)
        if let maxKeys, !(1...1000).contains(maxKeys) {
            throw S3Error.invalidArgument("maxKeys must be between 1 and 1000, got \(maxKeys)", bucket: bucket)
        }
        var query: [(String, String)] = [("list-type", "2")]
        if let prefix { query.append(("prefix", prefix)) }
        if let delimiter { query.append(("delimiter", delimiter)) }
        if let maxKeys { query.append(("max-keys", String(maxKeys))) }
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        if let startAfter { query.append(("start-after", startAfter)) }
        let response = try await sendAndCollect(S3Request("GET", bucket: bucket, query: query))
        // Decoded as the parser reads it (no tree): the listing path is the hot one.
        var decoder = ListPageDecoder()
        do {
            try XMLParser.walk(response.body, &decoder)
        } catch {
            throw S3Error(code: .invalidResponse, message: "the response is not valid XML", bucket: bucket, underlying: error)
        }
        guard decoder.root == "ListBucketResult" || decoder.root == "ListBucketResponse" else {
            throw S3Error(code: .invalidResponse, message: "expected <ListBucketResult> in the response, got <\(decoder.root)>", bucket: bucket)
        }
        var page = decoder.page
        page.server = response.head.headers["server"]
        if page.isTruncated, (page.nextContinuationToken ?? "").isEmpty {
            // Ending here would silently drop the rest of the listing.
            throw S3Error(code: .invalidResponse, message: "a truncated listing page came without a NextContinuationToken", bucket: bucket)
        }
        return page
    }

    // MARK: - Helpers

    func objectRequest(_ method: String, bucket: String, key: String, metadata: [String: String] = [:],
                       conditions: S3Conditions? = nil, properties: S3ObjectProperties? = nil) throws -> S3Request {
        try Validation.bucketName(bucket)
        try Validation.key(key, bucket: bucket)
        try Validation.metadata(metadata, bucket: bucket, key: key)
        var r = S3Request(method, bucket: bucket, key: key)
        if let conditions { for (name, value) in try conditions.headers(for: method, bucket: bucket, key: key) { r.headers.set(name, value) } }
        if let properties { for (name, value) in try properties.headers(bucket: bucket, key: key) { r.headers.set(name, value) } }
        for (name, value) in metadata.sorted(by: { $0.key < $1.key }) { r.headers.add("x-amz-meta-" + name.lowercased(), value) }
        return r
    }

    /// A 404 on an object request: NoSuchBucket when the bucket is missing, else NoSuchKey.
    private func disambiguate404(_ e: S3Error, bucket: String) async throws -> S3Error {
        if e.code == .noSuchBucket { return e }
        do {
            try await headBucket(bucket)
        } catch let b as S3Error where b.httpStatus == 404 {
            var out = b
            out.key = e.key
            out.code = .noSuchBucket
            out.message = "The specified bucket does not exist."
            return out
        }
        var out = e
        if out.code.rawValue == "HTTP404" {
            out.code = .noSuchKey
            out.message = "The specified key does not exist."
        }
        return out
    }

    /// Parses a response document whose root must be `root`. moto names some roots
    /// `...Response` where S3 says `...Result`; both are accepted.
    func parse(_ body: [UInt8], expecting root: String, bucket: String?, key: String?) throws -> XMLNode {
        do {
            let xml = try XMLParser.parse(body)
            let alternative = root.hasSuffix("Result") ? String(root.dropLast(6)) + "Response" : root
            guard xml.name == root || xml.name == alternative else {
                throw S3Error(code: .invalidResponse, message: "expected <\(root)> in the response, got <\(xml.name)>", bucket: bucket, key: key)
            }
            return xml
        } catch let e as XMLParseError {
            throw S3Error(code: .invalidResponse, message: "the response is not valid XML", bucket: bucket, key: key, underlying: e)
        }
    }

    static func attributes(from headers: HTTPHeaders) -> S3ObjectHead {
        var metadata: [String: String] = [:]
        for (name, value) in headers {
            let lower = name.lowercased()
            if lower.hasPrefix("x-amz-meta-") { metadata[String(lower.dropFirst(11))] = value }
        }
        var attributes = S3ObjectHead(
            size: Int64(headers["content-length"] ?? "") ?? 0,
            eTag: headers["etag"].map(unquote),
            lastModified: headers["last-modified"].flatMap(S3Dates.parseHTTPDate),
            contentType: headers["content-type"],
            metadata: metadata,
            versionID: headers["x-amz-version-id"],
            checksum: S3Checksum.from(headers))
        attributes.properties = S3ObjectProperties(storageClass: headers["x-amz-storage-class"], cacheControl: headers["cache-control"],
                                                   contentDisposition: headers["content-disposition"],
                                                   contentEncoding: headers["content-encoding"], contentLanguage: headers["content-language"],
                                                   expires: headers["expires"].flatMap(S3Dates.parseHTTPDate))
        attributes.tagCount = headers["x-amz-tagging-count"].flatMap { Int($0) }
        if let mode = headers["x-amz-object-lock-mode"].flatMap(S3RetentionMode.init(rawValue:)),
           let until = headers["x-amz-object-lock-retain-until-date"].flatMap({ S3Dates.parseISO8601($0) }) {
            attributes.properties.retention = S3ObjectRetention(mode: mode, retainUntil: until)
        }
        attributes.properties.legalHold = headers["x-amz-object-lock-legal-hold"].map { $0 == "ON" }
        switch headers["x-amz-server-side-encryption"] {
        case "AES256": attributes.properties.encryption = .s3
        case "aws:kms", "aws:kms:dsse":
            attributes.properties.encryption = .kms(keyID: headers["x-amz-server-side-encryption-aws-kms-key-id"],
                                                    bucketKey: headers["x-amz-server-side-encryption-bucket-key-enabled"].map { $0 == "true" })
        default: break
        }
        attributes.usesCustomerKey = headers["x-amz-server-side-encryption-customer-algorithm"] != nil
        return attributes
    }

    static func unquote(_ s: String) -> String {
        var t = Substring(s)
        if t.hasPrefix("W/") { t = t.dropFirst(2) }
        if t.count >= 2, t.first == "\"", t.last == "\"" { t = t.dropFirst().dropLast() }
        return String(t)
    }
}

extension S3Error.Code {
    static let HTTP404: S3Error.Code = "HTTP404"
}
