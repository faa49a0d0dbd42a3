import Foundation
import S3Signing

extension S3Client {
    /// Deletes up to 1,000 keys (optionally specific versions) in one DeleteObjects request.
    /// Returns the keys S3 reported as not deleted. On a store without DeleteObjects (GCS,
    /// or one that answers it with NotImplemented) the keys are deleted one by one, 16 at a
    /// time, with the same result. `bypassGovernanceRetention` deletes versions under Object Lock
    /// governance retention too (see ``deleteObject(bucket:key:versionID:conditions:bypassGovernanceRetention:)``).
    public func deleteObjects(bucket: String, keys: [(key: String, versionID: String?)],
                              bypassGovernanceRetention: Bool = false) async throws -> [S3DeleteFailure] {
        try Validation.bucketName(bucket)
        guard keys.count <= 1000 else {
            throw S3Error.invalidArgument("DeleteObjects takes at most 1,000 keys, got \(keys.count)", bucket: bucket)
        }
        if keys.isEmpty { return [] }
        for (key, _) in keys { try Validation.key(key, bucket: bucket) }
        let bypass = bypassGovernanceRetention
        guard configuration.store.hasDeleteObjects else { return try await deleteEach(bucket: bucket, keys: keys, bypassGovernanceRetention: bypass) }
        do {
            return try await deleteObjectsRequest(bucket: bucket, keys: keys, bypassGovernanceRetention: bypass)
        } catch let e as S3Error where e.code.rawValue == "NotImplemented" {
            return try await deleteEach(bucket: bucket, keys: keys, bypassGovernanceRetention: bypass)
        }
    }

    /// DeleteObjects' fallback: one DELETE per key, 16 at a time; failures reported per key.
    func deleteEach(bucket: String, keys: [(key: String, versionID: String?)], bypassGovernanceRetention: Bool = false) async throws -> [S3DeleteFailure] {
        try await withThrowingTaskGroup(of: S3DeleteFailure?.self) { group in
            var failures: [S3DeleteFailure] = []
            for (index, (key, version)) in keys.enumerated() {
                if index >= 16, let done = try await group.next(), let failure = done { failures.append(failure) }
                group.addTask {
                    var r = try self.objectRequest("DELETE", bucket: bucket, key: key)
                    if let version { r.query = [("versionId", version)] }
                    if bypassGovernanceRetention { r.headers.set("x-amz-bypass-governance-retention", "true") }
                    do {
                        _ = try await self.sendAndCollect(r)
                        return nil
                    } catch let e as S3Error where e.httpStatus != nil {
                        return S3DeleteFailure(key: key, versionID: version, code: e.code.rawValue, message: e.message)
                    }
                }
            }
            while let done = try await group.next() { if let failure = done { failures.append(failure) } }
            return failures
        }
    }

    private func deleteObjectsRequest(bucket: String, keys: [(key: String, versionID: String?)],
                                      bypassGovernanceRetention: Bool) async throws -> [S3DeleteFailure] {
        var xml = XMLWriter()
        xml.open("Delete", s3Namespace: true)
        xml.element("Quiet", "true")
        for (key, version) in keys {
            xml.open("Object")
            xml.element("Key", key)
            if let version { xml.element("VersionId", version) }
            xml.close("Object")
        }
        xml.close("Delete")
        var r = S3Request("POST", bucket: bucket, query: [("delete", "")])
        r.setXMLBody(xml)
        if bypassGovernanceRetention { r.headers.set("x-amz-bypass-governance-retention", "true") }
        let body = try await sendAndCollect(r).body
        let result = try parse(body, expecting: "DeleteResult", bucket: bucket, key: nil)
        return ResponseDecoders.deleteFailures(result)
    }

    /// One page of object versions and delete markers (ListObjectVersions).
    public func listObjectVersions(bucket: String, prefix: String? = nil, keyMarker: String? = nil, versionIDMarker: String? = nil)
        async throws -> (versions: [S3ObjectVersion], nextKeyMarker: String?, nextVersionIDMarker: String?) {
        try Validation.bucketName(bucket)
        var query: [(String, String)] = [("versions", "")]
        if let prefix { query.append(("prefix", prefix)) }
        if let keyMarker { query.append(("key-marker", keyMarker)) }
        if let versionIDMarker { query.append(("version-id-marker", versionIDMarker)) }
        let body = try await sendAndCollect(S3Request("GET", bucket: bucket, query: query)).body
        let xml = try parse(body, expecting: "ListVersionsResult", bucket: bucket, key: nil)
        return ResponseDecoders.versions(xml)
    }

    /// One page of unfinished multipart uploads (ListMultipartUploads).
    public func listMultipartUploads(bucket: String, prefix: String? = nil, keyMarker: String? = nil, uploadIDMarker: String? = nil)
        async throws -> (uploads: [S3MultipartUploadSummary], nextKeyMarker: String?, nextUploadIDMarker: String?) {
        try Validation.bucketName(bucket)
        var query: [(String, String)] = [("uploads", "")]
        if let prefix { query.append(("prefix", prefix)) }
        if let keyMarker { query.append(("key-marker", keyMarker)) }
        if let uploadIDMarker { query.append(("upload-id-marker", uploadIDMarker)) }
        let body = try await sendAndCollect(S3Request("GET", bucket: bucket, query: query)).body
        let xml = try parse(body, expecting: "ListMultipartUploadsResult", bucket: bucket, key: nil)
        return ResponseDecoders.multipartUploads(xml)
    }
}
