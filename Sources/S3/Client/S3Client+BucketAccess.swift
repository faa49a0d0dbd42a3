import Foundation
import S3Signing

// Who may do what with a bucket: its policy, its public access block, CORS for browsers and
// the ownership controls that decide whether ACLs count.
extension S3Client {
    // MARK: - Policy

    /// Sets the bucket policy, a JSON document (PutBucketPolicy). Refused before anything is
    /// sent when it is not a JSON object with a `Statement`, or over S3's 20 KiB.
    public func setBucketPolicy(bucket: String, json: String) async throws {
        try Validation.bucketName(bucket)
        try Validation.bucketPolicy(json, bucket: bucket)
        var r = S3Request("PUT", bucket: bucket, query: [("policy", "")])
        r.setBody(Array(json.utf8), contentType: "application/json")
        r.setContentMD5(Array(json.utf8))
        _ = try await sendAndCollect(r)
    }

    /// The bucket policy (a JSON document, as the store keeps it), or nil when the bucket has none.
    public func bucketPolicy(bucket: String) async throws -> String? {
        try Validation.bucketName(bucket)
        do {
            let body = try await sendAndCollect(S3Request("GET", bucket: bucket, query: [("policy", "")])).body
            return String(decoding: body, as: UTF8.self)
        } catch let e as S3Error where e.code.rawValue == "NoSuchBucketPolicy" {
            return nil
        }
    }

    /// Removes the bucket policy (DeleteBucketPolicy); succeeds when there is none, as S3 does
    /// (SeaweedFS answers that case with NoSuchBucketPolicy, taken as done).
    public func deleteBucketPolicy(bucket: String) async throws {
        try Validation.bucketName(bucket)
        do {
            _ = try await sendAndCollect(S3Request("DELETE", bucket: bucket, query: [("policy", "")]))
        } catch let e as S3Error where e.code.rawValue == "NoSuchBucketPolicy" {
            return
        }
    }

    /// Removes the bucket's public access block (DeletePublicAccessBlock); succeeds when there
    /// is none, and on stores that have no such feature (SeaweedFS, R2: `NotImplemented`), where
    /// nothing blocks public access in the first place.
    public func deletePublicAccessBlock(bucket: String) async throws {
        try Validation.bucketName(bucket)
        do {
            _ = try await sendAndCollect(S3Request("DELETE", bucket: bucket, query: [("publicAccessBlock", "")]))
        } catch let e as S3Error where e.code.rawValue == "NoSuchPublicAccessBlockConfiguration" || e.code.rawValue == "NotImplemented" {
            return
        }
    }

    // MARK: - CORS

    /// The bucket's CORS rules (GetBucketCors); empty when it has none.
    public func corsRules(bucket: String) async throws -> [S3CORSRule] {
        try Validation.bucketName(bucket)
        do {
            let body = try await sendAndCollect(S3Request("GET", bucket: bucket, query: [("cors", "")])).body
            let xml = try parse(body, expecting: "CORSConfiguration", bucket: bucket, key: nil)
            return try decode(bucket: bucket) { () throws(ResponseDecoders.Malformed) in try ResponseDecoders.corsRules(xml) }
        } catch let e as S3Error where e.code.rawValue == "NoSuchCORSConfiguration" {
            return []
        }
    }

    /// Replaces the bucket's CORS configuration with `rules` (PutBucketCors); an empty list
    /// deletes it (DeleteBucketCors). The rules are checked before anything is sent (at most
    /// 100; each with a method and an origin; at most one `*` in an origin or allowed header).
    public func setCORSRules(bucket: String, _ rules: [S3CORSRule]) async throws {
        try Validation.bucketName(bucket)
        try Validation.corsRules(rules, bucket: bucket)
        if rules.isEmpty {
            _ = try await sendAndCollect(S3Request("DELETE", bucket: bucket, query: [("cors", "")]))
            return
        }
        var xml = XMLWriter()
        xml.open("CORSConfiguration", s3Namespace: true)
        for rule in rules { xml.node(rule.xml) }
        xml.close("CORSConfiguration")
        var r = S3Request("PUT", bucket: bucket, query: [("cors", "")])
        r.setXMLBody(xml)
        _ = try await sendAndCollect(r)
    }

    // MARK: - Ownership controls

    /// The bucket's object ownership setting (GetBucketOwnershipControls); nil when it has no
    /// ownership controls.
    public func objectOwnership(bucket: String) async throws -> S3ObjectOwnership? {
        try Validation.bucketName(bucket)
        do {
            let body = try await sendAndCollect(S3Request("GET", bucket: bucket, query: [("ownershipControls", "")])).body
            let xml = try parse(body, expecting: "OwnershipControls", bucket: bucket, key: nil)
            return try decode(bucket: bucket) { () throws(ResponseDecoders.Malformed) in try ResponseDecoders.objectOwnership(xml) }
        } catch let e as S3Error where e.code.rawValue == "OwnershipControlsNotFoundError" {
            return nil
        }
    }

    /// Sets the bucket's object ownership (PutBucketOwnershipControls); nil removes the
    /// ownership controls (DeleteBucketOwnershipControls).
    public func setObjectOwnership(bucket: String, _ ownership: S3ObjectOwnership?) async throws {
        try Validation.bucketName(bucket)
        guard let ownership else {
            do {
                _ = try await sendAndCollect(S3Request("DELETE", bucket: bucket, query: [("ownershipControls", "")]))
            } catch let e as S3Error where e.code.rawValue == "OwnershipControlsNotFoundError" {}
            return
        }
        var xml = XMLWriter()
        xml.open("OwnershipControls", s3Namespace: true)
        xml.open("Rule")
        xml.element("ObjectOwnership", ownership.rawValue)
        xml.close("Rule")
        xml.close("OwnershipControls")
        var r = S3Request("PUT", bucket: bucket, query: [("ownershipControls", "")])
        r.setXMLBody(xml)
        _ = try await sendAndCollect(r)
    }
}

extension Validation {
    /// A bucket policy: a JSON object with a `Statement`, at most 20 KiB (S3's limit).
    static func bucketPolicy(_ json: String, bucket: String) throws(S3Error) {
        guard json.utf8.count <= 20 * 1024 else {
            throw S3Error.invalidArgument("the bucket policy is \(json.utf8.count) bytes; S3 takes at most 20 KiB", bucket: bucket)
        }
        let object = try? JSONSerialization.jsonObject(with: Data(json.utf8))
        guard let document = object as? [String: Any] else {
            throw S3Error.invalidArgument("the bucket policy is not a JSON object", bucket: bucket)
        }
        guard document["Statement"] != nil else {
            throw S3Error.invalidArgument("the bucket policy has no Statement", bucket: bucket)
        }
    }
}
