import Foundation
import S3Signing

extension S3Client {
    /// The bucket's lifecycle rules; empty when it has no lifecycle configuration.
    public func lifecycleRules(bucket: String) async throws -> [S3LifecycleRule] {
        try Validation.bucketName(bucket)
        do {
            let body = try await sendAndCollect(S3Request("GET", bucket: bucket, query: [("lifecycle", "")])).body
            let xml = try parse(body, expecting: "LifecycleConfiguration", bucket: bucket, key: nil)
            return ResponseDecoders.lifecycleRules(xml)
        } catch let e as S3Error where e.code.rawValue == "NoSuchLifecycleConfiguration" {
            return []
        }
    }

    /// Replaces the bucket's lifecycle configuration with `rules` (PutBucketLifecycleConfiguration);
    /// an empty list deletes the configuration.
    public func setLifecycleRules(bucket: String, _ rules: [S3LifecycleRule]) async throws {
        try Validation.bucketName(bucket)
        if rules.isEmpty {
            _ = try await sendAndCollect(S3Request("DELETE", bucket: bucket, query: [("lifecycle", "")]))
            return
        }
        var xml = XMLWriter()
        xml.open("LifecycleConfiguration", s3Namespace: true)
        for rule in rules { xml.node(rule.xml) }
        xml.close("LifecycleConfiguration")
        var r = S3Request("PUT", bucket: bucket, query: [("lifecycle", "")])
        r.setXMLBody(xml)
        _ = try await sendAndCollect(r)
    }
}

extension S3Request {
    /// Adds `Content-MD5` (base64 of the MD5 of `bytes`), which S3 requires on some requests.
    mutating func setContentMD5(_ bytes: [UInt8]) {
        headers.set("Content-MD5", Data(Digest.md5(bytes)).base64EncodedString())
    }

    /// The body of a configuration request (lifecycle, CORS, tagging, Object Lock, ...): the
    /// document as `application/xml`, with the `Content-MD5` S3 requires on most of them.
    mutating func setXMLBody(_ xml: XMLWriter) {
        setBody(xml.data, contentType: "application/xml")
        setContentMD5(xml.data)
    }
}

extension S3Client {
    /// Turns versioning on (`true`) or suspends it (`false`) (PutBucketVersioning).
    public func setBucketVersioning(bucket: String, enabled: Bool) async throws {
        try Validation.bucketName(bucket)
        var xml = XMLWriter()
        xml.open("VersioningConfiguration", s3Namespace: true)
        xml.element("Status", enabled ? "Enabled" : "Suspended")
        xml.close("VersioningConfiguration")
        var r = S3Request("PUT", bucket: bucket, query: [("versioning", "")])
        r.setXMLBody(xml)
        _ = try await sendAndCollect(r)
    }

    /// The bucket's versioning state (GetBucketVersioning).
    public func bucketVersioning(bucket: String) async throws -> S3VersioningStatus {
        try Validation.bucketName(bucket)
        let body = try await sendAndCollect(S3Request("GET", bucket: bucket, query: [("versioning", "")])).body
        // S3 answers <VersioningConfiguration>; moto, for a bucket never versioned, an empty
        // <GetBucketVersioningResponse>. No Status in either: unversioned.
        let xml: XMLNode
        do { xml = try XMLParser.parse(body) } catch {
            throw S3Error(code: .invalidResponse, message: "GetBucketVersioning answered with invalid XML", bucket: bucket, underlying: error)
        }
        let status = xml.value("Status") ?? xml.child("VersioningConfiguration")?.value("Status")
        return status.flatMap(S3VersioningStatus.init(rawValue:)) ?? .unversioned
    }
}
