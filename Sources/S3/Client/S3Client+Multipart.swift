import Foundation
import S3HTTP
import S3Signing

extension S3Client {
    /// Starts a multipart upload (CreateMultipartUpload); returns the upload ID. With checksums
    /// on, it declares the algorithm and, where the store can (``S3StoreProfile``), a
    /// full-object checksum, which ``completeMultipartUpload(bucket:key:uploadID:parts:)`` then sends.
    public func createMultipartUpload(bucket: String, key: String, contentType: String = "application/octet-stream",
                                      metadata: [String: String] = [:], properties: S3ObjectProperties = S3ObjectProperties()) async throws -> String {
        try await startMultipartUpload(bucket: bucket, key: key, contentType: contentType, metadata: metadata, properties: properties,
                                       fallBack: false).uploadID
    }

    /// CreateMultipartUpload; with `fallBack`, a store of unknown kind that refuses the
    /// full-object checksum type (NotImplemented, InvalidArgument, InvalidRequest) is asked
    /// again for a composite one. Returns whether the upload has a full-object checksum.
    func startMultipartUpload(bucket: String, key: String, contentType: String, metadata: [String: String],
                              properties: S3ObjectProperties = S3ObjectProperties(), fallBack: Bool) async throws
        -> (uploadID: String, fullObject: Bool, attempts: Int) {
        let algorithm = try configuration.uploadChecksum(bucket: bucket, key: key)
        let fullObject = algorithm.map { configuration.store.acceptsFullObjectMultipart($0) } ?? false
        do {
            let (id, attempts) = try await createMultipartUpload(bucket: bucket, key: key, contentType: contentType, metadata: metadata,
                                                                 algorithm: algorithm, fullObject: fullObject, properties: properties)
            return (id, fullObject, attempts)
        } catch let e as S3Error where fallBack && fullObject && configuration.store == .other
            && ["NotImplemented", "InvalidArgument", "InvalidRequest"].contains(e.code.rawValue) {
            let (id, attempts) = try await createMultipartUpload(bucket: bucket, key: key, contentType: contentType, metadata: metadata,
                                                                 algorithm: algorithm, fullObject: false, properties: properties)
            return (id, false, e.attempts + attempts)
        }
    }

    /// CreateMultipartUpload: the upload ID and the attempts it took.
    func createMultipartUpload(bucket: String, key: String, contentType: String, metadata: [String: String],
                               algorithm: S3ChecksumAlgorithm?, fullObject: Bool,
                               properties: S3ObjectProperties = S3ObjectProperties()) async throws -> (uploadID: String, attempts: Int) {
        var r = try objectRequest("POST", bucket: bucket, key: key, metadata: metadata, properties: properties)
        r.query = [("uploads", "")]
        Self.addCustomerKey(to: &r)
        r.headers.set("Content-Type", contentType)
        try checkPayloadProtection(bucket: bucket, key: key)
        if let algorithm {
            r.headers.set("x-amz-checksum-algorithm", algorithm.rawValue)
            if fullObject { r.headers.set("x-amz-checksum-type", "FULL_OBJECT") }
        }
        let response = try await sendAndCollect(r)
        let xml = try parse(response.body, expecting: "InitiateMultipartUploadResult", bucket: bucket, key: key)
        guard let id = ResponseDecoders.uploadID(xml) else {
            throw S3Error(code: .invalidResponse, message: "CreateMultipartUpload returned no UploadId", bucket: bucket, key: key)
        }
        return (id, response.attempts)
    }

    /// Uploads one part (UploadPart) with its `Content-MD5`; returns its ETag.
    public func uploadPart(bucket: String, key: String, uploadID: String, partNumber: Int, bytes: [UInt8]) async throws -> S3CompletedPart {
        let r = try bytes.withUnsafeBytes {
            try partRequest(bucket: bucket, key: key, uploadID: uploadID, partNumber: partNumber, body: .bytes(bytes), bytes: $0,
                            md5: Digest.md5(bytes))
        }
        return try await sendPart(r, partNumber: partNumber)
    }

    /// UploadPart from a part buffer, protected as the configuration says (signed SHA-256 and/or
    /// a CRC header); with `Content-MD5` when the caller computed the MD5 (and keeps it for
    /// verifying the final multipart ETag).
    func uploadPart(bucket: String, key: String, uploadID: String, partNumber: Int, buffer: PartBuffer, md5: [UInt8]?) async throws -> S3CompletedPart {
        let r = try partRequest(bucket: bucket, key: key, uploadID: uploadID, partNumber: partNumber, body: .buffer(buffer),
                                bytes: buffer.bytes, md5: md5)
        return try await sendPart(r, partNumber: partNumber)
    }

    /// An UploadPart request for `body`, whose bytes are `bytes`.
    private func partRequest(bucket: String, key: String, uploadID: String, partNumber: Int, body: HTTPRequestBody,
                             bytes: UnsafeRawBufferPointer, md5: [UInt8]?) throws -> S3Request {
        guard (1...10_000).contains(partNumber) else {
            throw S3Error.invalidArgument("part numbers go from 1 to 10,000, got \(partNumber)", bucket: bucket, key: key)
        }
        var r = try objectRequest("PUT", bucket: bucket, key: key)
        r.query = [("partNumber", String(partNumber)), ("uploadId", uploadID)]
        Self.addCustomerKey(to: &r)
        r.body = body
        r.headers.set("Content-Type", "application/octet-stream")
        try checkPayloadProtection(bucket: bucket, key: key)
        try protectPayload(&r, bytes)
        if let md5 { r.headers.set("Content-MD5", Data(md5).base64EncodedString()) }
        return r
    }

    private func sendPart(_ r: S3Request, partNumber: Int) async throws -> S3CompletedPart {
        let head = try await sendAndCollect(r).head
        guard let eTag = head.headers["etag"] else {
            throw S3Error(code: .invalidResponse, message: "UploadPart returned no ETag", bucket: r.bucket, key: r.key)
        }
        return S3CompletedPart(partNumber: partNumber, eTag: Self.unquote(eTag), checksum: r.sentChecksum, size: r.body.length)
    }

    /// Completes a multipart upload (CompleteMultipartUpload). S3 may answer 200 with an error
    /// document; that is an ``S3Error`` too, retried like any other when transient.
    ///
    /// Each part's checksum is listed. When the upload was started with a full-object CRC (the
    /// default, see ``S3Configuration/checksums``) and every part's CRC and size are known, the
    /// whole object's CRC is computed from them (CRC combination, no byte read again) and sent
    /// for the store to verify against what it assembled.
    @discardableResult
    public func completeMultipartUpload(bucket: String, key: String, uploadID: String, parts: [S3CompletedPart]) async throws -> S3PutObjectResult {
        let algorithm = try configuration.uploadChecksum(bucket: bucket, key: key)
        return try await completeMultipartUpload(bucket: bucket, key: key, uploadID: uploadID, parts: parts,
                                                 fullObject: algorithm.map { configuration.store.acceptsFullObjectMultipart($0) } ?? false)
    }

    /// CompleteMultipartUpload of an upload started with (`fullObject`) or without a
    /// full-object checksum.
    func completeMultipartUpload(bucket: String, key: String, uploadID: String, parts: [S3CompletedPart],
                                 fullObject: Bool) async throws -> S3PutObjectResult {
        let sorted = parts.sorted(by: { $0.partNumber < $1.partNumber })
        var xml = XMLWriter()
        xml.open("CompleteMultipartUpload", s3Namespace: true)
        for part in sorted {
            xml.open("Part")
            xml.element("PartNumber", String(part.partNumber))
            xml.element("ETag", "\"" + part.eTag + "\"")
            if let checksum = part.checksum { xml.element(checksum.algorithm.elementName, checksum.value) }
            xml.close("Part")
        }
        xml.close("CompleteMultipartUpload")
        var r = try objectRequest("POST", bucket: bucket, key: key)
        r.query = [("uploadId", uploadID)]
        r.setBody(xml.data, contentType: "application/xml")
        if fullObject, let algorithm = try configuration.uploadChecksum(bucket: bucket, key: key) {
            r.headers.set("x-amz-checksum-type", "FULL_OBJECT")
            if let whole = Self.fullObjectChecksum(sorted, algorithm: algorithm) { r.headers.set(algorithm.headerName, whole.value) }
        }
        r.errorMayComeWith200 = true
        let response = try await sendAndCollect(r)
        let (head, body) = (response.head, response.body)
        let doc: XMLNode
        do {
            doc = try XMLParser.parse(body)
        } catch {
            throw S3Error(code: .invalidResponse, message: "CompleteMultipartUpload answered with invalid XML", bucket: bucket, key: key, underlying: error)
        }
        // (An <Error> document with status 200 was thrown by the pipeline, and retried when transient.)
        // S3 names the root CompleteMultipartUploadResult; moto says ...Response. Both carry ETag.
        return S3PutObjectResult(eTag: ResponseDecoders.completedETag(doc), versionID: head.headers["x-amz-version-id"],
                                 attempts: response.attempts)
    }

    /// The whole object's CRC from its parts' CRCs and sizes, `nil` unless every part has both.
    static func fullObjectChecksum(_ parts: [S3CompletedPart], algorithm: S3ChecksumAlgorithm) -> S3Checksum? {
        guard let kind = algorithm.crcKind else { return nil }
        var whole = CRC(kind)
        for part in parts {
            guard let checksum = part.checksum, checksum.algorithm == algorithm, let value = checksum.crcValue, let size = part.size else { return nil }
            whole = whole.followed(by: CRC(kind, value: value, length: size))
        }
        return S3Checksum(whole)
    }

    /// The parts of an unfinished multipart upload already on the server (ListParts, all pages).
    public func listParts(bucket: String, key: String, uploadID: String) async throws -> [S3CompletedPart] {
        var parts: [S3CompletedPart] = []
        var marker: String?
        repeat {
            var r = try objectRequest("GET", bucket: bucket, key: key)
            r.query = [("uploadId", uploadID)]
            if let marker { r.query.append(("part-number-marker", marker)) }
            let body = try await sendAndCollect(r).body
            let xml = try parse(body, expecting: "ListPartsResult", bucket: bucket, key: key)
            let page = ResponseDecoders.parts(xml)
            parts += page.parts
            marker = page.nextMarker
        } while marker != nil
        return parts
    }

    /// Aborts a multipart upload (AbortMultipartUpload), discarding its parts.
    public func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws {
        var r = try objectRequest("DELETE", bucket: bucket, key: key)
        r.query = [("uploadId", uploadID)]
        _ = try await sendAndCollect(r)
    }
}

extension S3Client {
    /// Refuses ``S3PayloadProtection/checksumOnly`` on a plain-http endpoint unless the configuration
    /// says the network is trusted (``S3Configuration/allowsUnsignedPayloadOverHTTP``).
    func checkPayloadProtection(bucket: String, key: String?) throws {
        guard configuration.payloadProtection == .checksumOnly, configuration.endpoint.scheme == "http",
              !configuration.allowsUnsignedPayloadOverHTTP else { return }
        throw S3Error.invalidArgument(
            "payload protection .checksumOnly sends bodies unsigned, which relies on TLS, but \(configuration.endpoint) is plain http: "
                + "use https, .signedSHA256, or set allowsUnsignedPayloadOverHTTP for a network you trust", bucket: bucket, key: key)
    }

    /// Sets how `bytes`, the body of `r`, is protected: its SHA-256 signed unless the payload
    /// protection is ``S3PayloadProtection/checksumOnly``, and its CRC in a signed header when
    /// checksums are on (``S3Configuration/checksums``).
    func protectPayload(_ r: inout S3Request, _ bytes: UnsafeRawBufferPointer) throws {
        switch configuration.payloadProtection {
        case .signedSHA256: r.payloadHash = Digest.hex(Digest.sha256(bytes))
        case .checksumOnly: r.payloadHash = SigV4Payload.unsigned
        }
        if let algorithm = try configuration.uploadChecksum(bucket: r.bucket, key: r.key), let kind = algorithm.crcKind {
            r.setChecksum(S3Checksum(CRC(kind, of: bytes)))
        } else if r.setsObjectLock {
            // S3 requires Content-MD5 or a checksum on a write that sets a retention or hold.
            r.headers.set("Content-MD5", Data(Digest.md5(bytes)).base64EncodedString())
        }
    }
}

extension S3Request {
    /// Sends `checksum` with the body (`x-amz-checksum-*`, and the SDKs' `x-amz-sdk-checksum-algorithm`,
    /// which some stores need to keep it).
    mutating func setChecksum(_ checksum: S3Checksum) {
        headers.set(checksum.algorithm.headerName, checksum.value)
        headers.set("x-amz-sdk-checksum-algorithm", checksum.algorithm.rawValue)
    }

    /// Whether this write sets an Object Lock retention or legal hold.
    var setsObjectLock: Bool { headers.contains("x-amz-object-lock-mode") || headers.contains("x-amz-object-lock-legal-hold") }

    /// The checksum this request sends with its body, if any.
    var sentChecksum: S3Checksum? {
        guard let name = headers["x-amz-sdk-checksum-algorithm"], let algorithm = S3ChecksumAlgorithm(rawValue: name),
              let value = headers[algorithm.headerName] else { return nil }
        return S3Checksum(algorithm: algorithm, value: value)
    }
}

extension S3Client {
    /// Aborts `uploadID` after its transfer failed, even when this task was cancelled: a
    /// detached task does not inherit that (nor the task-local retry policy, so it is passed
    /// on); the abort retries like any request. Returns nil when nothing is left on the store
    /// (aborted, or `NoSuchUpload`: completed or dropped already), else the abort's error: the
    /// upload stays (and costs storage), which the caller must report.
    func abortLeavingNothing(bucket: String, key: String, uploadID: String) async -> (any Error)? {
        // (Task.detached, not Task: a task-local customer key or policy is no part of an abort.)
        let policy = retryPolicy
        let aborted = await Task.detached { [self] in
            try await S3Client.withRetryPolicy(policy) { try await self.abortMultipartUpload(bucket: bucket, key: key, uploadID: uploadID) }
        }.result
        guard case .failure(let abortError) = aborted, (abortError as? S3Error)?.code != .noSuchUpload else { return nil }
        return abortError
    }
}

extension S3Client {
    /// Runs `create` (a CreateMultipartUpload, which returns the upload ID and the attempts it
    /// took) for a transfer, so that no upload it may have made is left on the store unknown
    /// (where it would cost storage until a lifecycle rule removed it):
    ///
    /// - The caller's cancellation does not cut the request short: a request cut short after
    ///   the store acted on it would leave an upload nobody knows the ID of. It runs in a task of
    ///   its own (which keeps the task-local retry policy and customer key); a caller cancelled
    ///   meanwhile aborts the upload it got and throws `CancellationError`.
    /// - When it took more than one attempt, an earlier one may have made an upload whose answer
    ///   was lost on the way back (a gateway restarted, a connection dropped). Uploads of this
    ///   exact key started from the first attempt on (by the store's clock, 2 s of margin), other
    ///   than the one returned, are aborted. So are they when every attempt failed in a way that
    ///   may have reached the store (a transport failure, a 5xx), before the error is thrown.
    ///   Another writer's upload of the same key, started within those seconds, would be aborted
    ///   too: that writer then fails loudly with `NoSuchUpload`, rather than an orphan staying
    ///   silently. A store that does not report when uploads started is left as it is.
    func createLeavingNothing<T: Sendable>(bucket: String, key: String,
                                           _ create: @escaping @Sendable () async throws -> (value: T, uploadID: String, attempts: Int))
        async throws -> T {
        let since = clock.now() - 2
        let created = await Task { try await create() }.result
        switch created {
        case .success(let (value, uploadID, attempts)):
            if attempts > 1 { await abortStrays(bucket: bucket, key: key, since: since, keeping: uploadID) }
            if Task.isCancelled {
                _ = await abortLeavingNothing(bucket: bucket, key: key, uploadID: uploadID)
                throw CancellationError()
            }
            return value
        case .failure(let error):
            if let e = error as? S3Error, e.attempts > 1 || e.code == .transportFailure || (e.httpStatus ?? 0) >= 500 {
                await abortStrays(bucket: bucket, key: key, since: since, keeping: nil)
            }
            if Task.isCancelled { throw CancellationError() }
            throw error
        }
    }

    /// Aborts the uploads of exactly `key` started at `since` (store's clock, seconds since
    /// 1970) or later, except `keeping`; best effort (a failure leaves them as they were).
    private func abortStrays(bucket: String, key: String, since: Int, keeping: String?) async {
        let policy = retryPolicy
        _ = await Task.detached { [self] in
            try await S3Client.withRetryPolicy(policy) {
                var keyMarker: String?, idMarker: String?
                var pages = 0
                repeat {
                    let page = try await listMultipartUploads(bucket: bucket, prefix: key, keyMarker: keyMarker, uploadIDMarker: idMarker)
                    for u in page.uploads where u.key == key && u.uploadID != keeping {
                        guard let initiated = u.initiated, Int(initiated.timeIntervalSince1970) >= since else { continue }
                        try? await abortMultipartUpload(bucket: bucket, key: key, uploadID: u.uploadID)
                    }
                    (keyMarker, idMarker) = (page.nextKeyMarker, page.nextUploadIDMarker)
                    pages += 1
                } while keyMarker != nil && pages < 10
            }
        }.result
    }
}
