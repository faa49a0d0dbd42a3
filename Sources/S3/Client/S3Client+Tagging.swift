import Foundation
import S3Signing

extension S3Client {
    /// Replaces the tags of an object (or of one version) (PutObjectTagging).
    public func setObjectTags(bucket: String, key: String, versionID: String? = nil, _ tags: [String: String]) async throws {
        try Validation.tags(tags, limit: 10, bucket: bucket, key: key)
        var r = try objectRequest("PUT", bucket: bucket, key: key)
        r.query = [("tagging", "")]
        try Self.addVersion(versionID, to: &r)
        Self.setTagging(tags, on: &r)
        _ = try await sendAndCollect(r)
    }

    /// The tags of an object (or of one version) (GetObjectTagging); empty when it has none.
    public func objectTags(bucket: String, key: String, versionID: String? = nil) async throws -> [String: String] {
        var r = try objectRequest("GET", bucket: bucket, key: key)
        r.query = [("tagging", "")]
        try Self.addVersion(versionID, to: &r)
        return Self.tags(in: try parse(try await sendAndCollect(r).body, expecting: "Tagging", bucket: bucket, key: key))
    }

    /// Removes every tag of an object (or of one version) (DeleteObjectTagging).
    public func deleteObjectTags(bucket: String, key: String, versionID: String? = nil) async throws {
        var r = try objectRequest("DELETE", bucket: bucket, key: key)
        r.query = [("tagging", "")]
        try Self.addVersion(versionID, to: &r)
        _ = try await sendAndCollect(r)
    }

    /// Replaces the tags of a bucket (PutBucketTagging; at most 50).
    public func setBucketTags(bucket: String, _ tags: [String: String]) async throws {
        try Validation.bucketName(bucket)
        try Validation.tags(tags, limit: 50, bucket: bucket, key: nil)
        var r = S3Request("PUT", bucket: bucket, query: [("tagging", "")])
        Self.setTagging(tags, on: &r)
        _ = try await sendAndCollect(r)
    }

    /// The tags of a bucket (GetBucketTagging); empty when it has none.
    public func bucketTags(bucket: String) async throws -> [String: String] {
        try Validation.bucketName(bucket)
        do {
            let body = try await sendAndCollect(S3Request("GET", bucket: bucket, query: [("tagging", "")])).body
            return Self.tags(in: try parse(body, expecting: "Tagging", bucket: bucket, key: nil))
        } catch let e as S3Error where e.code == "NoSuchTagSet" || e.code == "NoSuchTagSetError" {
            return [:]
        }
    }

    /// Removes every tag of a bucket (DeleteBucketTagging).
    public func deleteBucketTags(bucket: String) async throws {
        try Validation.bucketName(bucket)
        _ = try await sendAndCollect(S3Request("DELETE", bucket: bucket, query: [("tagging", "")]))
    }

    /// `<Tagging><TagSet><Tag><Key/><Value/></Tag>...</TagSet></Tagging>` with its Content-MD5
    /// (which S3 requires on PutBucketTagging).
    private static func setTagging(_ tags: [String: String], on r: inout S3Request) {
        var xml = XMLWriter()
        xml.open("Tagging", s3Namespace: true)
        xml.open("TagSet")
        for (key, value) in tags.sorted(by: { $0.key < $1.key }) {
            xml.open("Tag")
            xml.element("Key", key)
            xml.element("Value", value)
            xml.close("Tag")
        }
        xml.close("TagSet")
        xml.close("Tagging")
        r.setXMLBody(xml)
    }

    private static func tags(in xml: XMLNode) -> [String: String] {
        var out: [String: String] = [:]
        for tag in (xml.child("TagSet") ?? xml).children("Tag") {
            if let key = tag.value("Key") { out[key] = tag.value("Value") ?? "" }
        }
        return out
    }
}
