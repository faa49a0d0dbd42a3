import Foundation
import S3HTTP
import S3Signing

/// A part of a multipart upload, as CompleteMultipartUpload wants it.
public struct S3CompletedPart: Sendable, Hashable {
    /// 1 to 10,000.
    public var partNumber: Int
    /// The ETag UploadPart returned, quotes removed.
    public var eTag: String
    /// The part's CRC-32C (base64), sent with it under ``S3PayloadProtection/crc32c``.
    public var checksumCRC32C: String?

    /// A part as UploadPart or ListParts reported it.
    public init(partNumber: Int, eTag: String, checksumCRC32C: String? = nil) {
        self.partNumber = partNumber
        self.eTag = eTag
        self.checksumCRC32C = checksumCRC32C
    }
}

extension S3Client {
    /// Starts a multipart upload (CreateMultipartUpload); returns the upload ID.
    public func createMultipartUpload(bucket: String, key: String, contentType: String = "application/octet-stream",
                                      metadata: [String: String] = [:]) async throws -> String {
        var r = try objectRequest("POST", bucket: bucket, key: key, metadata: metadata)
        r.query = [("uploads", "")]
        r.headers.set("Content-Type", contentType)
        try checkPayloadProtection(bucket: bucket, key: key)
        if configuration.payloadProtection == .crc32c { r.headers.set("x-amz-checksum-algorithm", "CRC32C") }
        let body = try await sendAndCollect(r).body
        let xml = try parse(body, expecting: "InitiateMultipartUploadResult", bucket: bucket, key: key)
        guard let id = ResponseDecoders.uploadID(xml) else {
            throw S3Error(code: .invalidResponse, message: "CreateMultipartUpload returned no UploadId", bucket: bucket, key: key)
        }
        return id
    }

    /// Uploads one part (UploadPart) with its `Content-MD5`; returns its ETag.
    public func uploadPart(bucket: String, key: String, uploadID: String, partNumber: Int, bytes: [UInt8]) async throws -> S3CompletedPart {
        let r = try bytes.withUnsafeBytes {
            try partRequest(bucket: bucket, key: key, uploadID: uploadID, partNumber: partNumber, body: .bytes(bytes), bytes: $0,
                            md5: Digest.md5(bytes))
        }
        return try await sendPart(r, partNumber: partNumber)
    }

    /// UploadPart from a part buffer, protected as the configuration says (signed SHA-256 or
    /// CRC-32C); with `Content-MD5` when the caller computed the MD5 (and keeps it for
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
        r.body = body
        r.headers.set("Content-Type", "application/octet-stream")
        try checkPayloadProtection(bucket: bucket, key: key)
        protectPayload(&r, bytes)
        if let md5 { r.headers.set("Content-MD5", Data(md5).base64EncodedString()) }
        return r
    }

    private func sendPart(_ r: S3Request, partNumber: Int) async throws -> S3CompletedPart {
        let head = try await sendAndCollect(r).head
        guard let eTag = head.headers["etag"] else {
            throw S3Error(code: .invalidResponse, message: "UploadPart returned no ETag", bucket: r.bucket, key: r.key)
        }
        return S3CompletedPart(partNumber: partNumber, eTag: Self.unquote(eTag), checksumCRC32C: r.headers["x-amz-checksum-crc32c"])
    }

    /// Completes a multipart upload (CompleteMultipartUpload). S3 may answer 200 with an error
    /// document; that is an ``S3Error`` too, retried like any other when transient.
    @discardableResult
    public func completeMultipartUpload(bucket: String, key: String, uploadID: String, parts: [S3CompletedPart]) async throws -> S3PutObjectResult {
        var xml = XMLWriter()
        xml.open("CompleteMultipartUpload", s3Namespace: true)
        for part in parts.sorted(by: { $0.partNumber < $1.partNumber }) {
            xml.open("Part")
            xml.element("PartNumber", String(part.partNumber))
            xml.element("ETag", "\"" + part.eTag + "\"")
            if let crc = part.checksumCRC32C { xml.element("ChecksumCRC32C", crc) }
            xml.close("Part")
        }
        xml.close("CompleteMultipartUpload")
        var r = try objectRequest("POST", bucket: bucket, key: key)
        r.query = [("uploadId", uploadID)]
        r.setBody(xml.data, contentType: "application/xml")
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
    /// Refuses ``S3PayloadProtection/crc32c`` on a plain-http endpoint unless the configuration
    /// says the network is trusted (``S3Configuration/allowsUnsignedPayloadOverHTTP``).
    func checkPayloadProtection(bucket: String, key: String?) throws {
        guard configuration.payloadProtection == .crc32c, configuration.endpoint.scheme == "http",
              !configuration.allowsUnsignedPayloadOverHTTP else { return }
        throw S3Error.invalidArgument(
            "payload protection .crc32c sends bodies unsigned, which relies on TLS, but \(configuration.endpoint) is plain http: "
                + "use https, .signedSHA256, or set allowsUnsignedPayloadOverHTTP for a network you trust", bucket: bucket, key: key)
    }

    /// Sets how `bytes`, the body of `r`, is protected: its SHA-256 signed, or its CRC-32C in
    /// a signed header with an unsigned payload (``S3Configuration/payloadProtection``).
    func protectPayload(_ r: inout S3Request, _ bytes: UnsafeRawBufferPointer) {
        switch configuration.payloadProtection {
        case .signedSHA256:
            r.payloadHash = Digest.hex(Digest.sha256(bytes))
        case .crc32c:
            r.payloadHash = SigV4Payload.unsigned
            r.headers.set("x-amz-checksum-crc32c", Self.crc32cBase64(Digest.crc32c(bytes)))
        }
    }

    /// A CRC-32C as S3 headers carry it: four big-endian bytes, base64.
    static func crc32cBase64(_ crc: UInt32) -> String {
        Data([UInt8(crc >> 24), UInt8((crc >> 16) & 0xff), UInt8((crc >> 8) & 0xff), UInt8(crc & 0xff)]).base64EncodedString()
    }
}
