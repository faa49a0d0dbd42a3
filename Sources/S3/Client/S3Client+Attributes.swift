import Foundation
import S3HTTP

extension S3Client {
    /// ETag, checksum, parts, storage class and size of an object in one request, without its
    /// bytes (GetObjectAttributes). For a multipart object, up to `maxParts` parts (1 to 1,000;
    /// the store's default, 1,000 on S3) from after `partNumberMarker`, each with its size and,
    /// when it was uploaded with one, its checksum; ``S3GetObjectAttributesResult/nextPartNumberMarker``
    /// tells where the next page starts. A missing object is `.noSuchKey`.
    public func objectAttributes(bucket: String, key: String, versionID: String? = nil, maxParts: Int? = nil,
                                 partNumberMarker: Int? = nil) async throws -> S3GetObjectAttributesResult {
        var r = try objectRequest("GET", bucket: bucket, key: key)
        r.query = [("attributes", "")]
        try Self.addVersion(versionID, to: &r)
        Self.addCustomerKey(to: &r)
        r.headers.set("x-amz-object-attributes", "ETag,Checksum,ObjectParts,StorageClass,ObjectSize")
        if let maxParts {
            guard (1...1000).contains(maxParts) else { throw S3Error.invalidArgument("maxParts is 1 to 1,000, not \(maxParts)", bucket: bucket, key: key) }
            r.headers.set("x-amz-max-parts", String(maxParts))
        }
        if let partNumberMarker {
            guard (0...10_000).contains(partNumberMarker) else {
                throw S3Error.invalidArgument("partNumberMarker is 0 to 10,000, not \(partNumberMarker)", bucket: bucket, key: key)
            }
            r.headers.set("x-amz-part-number-marker", String(partNumberMarker))
        }
        let response = try await sendAndCollect(r)
        // S3 names the root GetObjectAttributesResponse (parse() takes ...Result or ...Response);
        // moto GetObjectAttributesOutput.
        let xml: XMLNode
        do {
            xml = try XMLParser.parse(response.body)
        } catch {
            throw S3Error(code: .invalidResponse, message: "the response is not valid XML", bucket: bucket, key: key, underlying: error)
        }
        guard ["GetObjectAttributesResponse", "GetObjectAttributesResult", "GetObjectAttributesOutput"].contains(xml.name) else {
            throw S3Error(code: .invalidResponse, message: "expected <GetObjectAttributesResponse> in the response, got <\(xml.name)>",
                          bucket: bucket, key: key)
        }
        var result = ResponseDecoders.objectAttributes(xml)
        // An HTTP date, as S3 sends it; moto sends ISO 8601 here.
        result.lastModified = response.head.headers["last-modified"].flatMap { S3Dates.parseHTTPDate($0) ?? S3Dates.parseISO8601($0) }
        result.versionID = response.head.headers["x-amz-version-id"]
        return result
    }
}

extension ResponseDecoders {
    /// The body of a GetObjectAttributes answer.
    static func objectAttributes(_ xml: XMLNode) -> S3GetObjectAttributesResult {
        var result = S3GetObjectAttributesResult()
        result.eTag = xml.value("ETag").map(S3Client.unquote)
        result.storageClass = xml.value("StorageClass")
        result.size = xml.value("ObjectSize").flatMap { Int64($0) }
        if let parts = xml.child("ObjectParts") {
            result.partsCount = (parts.value("PartsCount") ?? parts.value("TotalPartsCount")).flatMap { Int($0) }
            result.parts = parts.children("Part").compactMap { part in
                guard let number = part.value("PartNumber").flatMap({ Int($0) }), let size = part.value("Size").flatMap({ Int64($0) }) else { return nil }
                return S3GetObjectAttributesResult.Part(partNumber: number, size: size, checksum: checksum(in: part, type: "FULL_OBJECT", parts: nil))
            }
            if parts.value("IsTruncated") == "true" { result.nextPartNumberMarker = parts.value("NextPartNumberMarker").flatMap { Int($0) } }
        }
        if let checksum = xml.child("Checksum") {
            // The number of parts of a composite value: its -N, the parts count, else the
            // ETag's -N (moto reports neither of the first two).
            let eTagParts = result.eTag.flatMap { e in e.lastIndex(of: "-").flatMap { Int(e[e.index(after: $0)...]) } }
            result.checksum = Self.checksum(in: checksum, type: checksum.value("ChecksumType"), parts: result.partsCount ?? eTagParts)
        }
        return result
    }

    /// The first `Checksum<ALGORITHM>` child of `node`: composite when `type` says so or the
    /// value ends in `-N`; full-object when `type` says so; for a multipart object (`parts`)
    /// that says neither, unknown, hence none (as ``S3Checksum/from(_:)`` decides for headers).
    private static func checksum(in node: XMLNode, type: String?, parts: Int?) -> S3Checksum? {
        for algorithm in [S3ChecksumAlgorithm.crc64nvme, .crc32c, .crc32, .sha256, .sha1] {
            guard let raw = node.value(algorithm.elementName), !raw.isEmpty else { continue }
            var value = Substring(raw)
            var count: Int?
            if let dash = raw.lastIndex(of: "-"), let n = Int(raw[raw.index(after: dash)...]) {
                value = raw[..<dash]
                count = n
            }
            switch type?.uppercased() {
            case "COMPOSITE": return S3Checksum(algorithm: algorithm, value: String(value), kind: .composite(parts: count ?? parts ?? 0))
            case "FULL_OBJECT": return S3Checksum(algorithm: algorithm, value: String(value))
            default:
                if let count { return S3Checksum(algorithm: algorithm, value: String(value), kind: .composite(parts: count)) }
                return parts == nil ? S3Checksum(algorithm: algorithm, value: String(value)) : nil
            }
        }
        return nil
    }
}
