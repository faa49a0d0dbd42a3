import Foundation
import S3Signing

// S3 Object Lock: write-once-read-many retention of object versions. A bucket gets Object
// Lock when it is created (``S3Client/createBucket(_:objectLockEnabled:)``), which also turns
// versioning on; each version may then carry a retention (a mode and a date) and a legal hold.
// S3 requires Content-MD5 (or a checksum) on every call that sets them: these send Content-MD5.
extension S3Client {
    /// The bucket's Object Lock configuration (GetObjectLockConfiguration); `enabled` false
    /// when the bucket has none.
    public func objectLockConfiguration(bucket: String) async throws -> S3ObjectLockConfiguration {
        try Validation.bucketName(bucket)
        do {
            let body = try await sendAndCollect(S3Request("GET", bucket: bucket, query: [("object-lock", "")])).body
            let xml = try parse(body, expecting: "ObjectLockConfiguration", bucket: bucket, key: nil)
            return try decode(bucket: bucket) { () throws(ResponseDecoders.Malformed) in try ResponseDecoders.objectLockConfiguration(xml) }
        } catch let e as S3Error where e.code.rawValue == "ObjectLockConfigurationNotFoundError" {
            return S3ObjectLockConfiguration(enabled: false)
        }
    }

    /// Sets the retention every new version of the bucket gets (PutObjectLockConfiguration);
    /// nil: none (versions are then locked only when written with a retention or one is set
    /// later). On a bucket without Object Lock this turns it on, which S3 allows only on a
    /// versioned bucket, and which cannot be undone.
    public func setObjectLockConfiguration(bucket: String, defaultRetention: S3DefaultRetention?) async throws {
        try Validation.bucketName(bucket)
        var xml = XMLWriter()
        xml.open("ObjectLockConfiguration", s3Namespace: true)
        xml.element("ObjectLockEnabled", "Enabled")
        if let defaultRetention {
            xml.open("Rule")
            xml.open("DefaultRetention")
            xml.element("Mode", defaultRetention.mode.rawValue)
            switch defaultRetention.period {
            case .days(let n):
                guard (1...36_500).contains(n) else { throw S3Error.invalidArgument("a default retention is 1 to 36,500 days, not \(n)", bucket: bucket) }
                xml.element("Days", String(n))
            case .years(let n):
                guard (1...100).contains(n) else { throw S3Error.invalidArgument("a default retention is 1 to 100 years, not \(n)", bucket: bucket) }
                xml.element("Years", String(n))
            }
            xml.close("DefaultRetention")
            xml.close("Rule")
        }
        xml.close("ObjectLockConfiguration")
        var r = S3Request("PUT", bucket: bucket, query: [("object-lock", "")])
        r.setXMLBody(xml)
        _ = try await sendAndCollect(r)
    }

    /// The retention of an object version (GetObjectRetention; `versionID` nil: the current
    /// one); nil when it has none.
    public func objectRetention(bucket: String, key: String, versionID: String? = nil) async throws -> S3ObjectRetention? {
        var r = try objectRequest("GET", bucket: bucket, key: key)
        r.query = [("retention", "")]
        try Self.addVersion(versionID, to: &r)
        do {
            let xml = try parse(try await sendAndCollect(r).body, expecting: "Retention", bucket: bucket, key: key)
            return try decode(bucket: bucket, key: key) { () throws(ResponseDecoders.Malformed) in try ResponseDecoders.objectRetention(xml) }
        } catch let e as S3Error where ["NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError"].contains(e.code.rawValue) {
            // S3 answers a version without retention with the first, SeaweedFS with the second.
            return nil
        }
    }

    /// Sets the retention of an object version (PutObjectRetention). Extending a retention is
    /// always allowed; shortening or removing (`nil`) one in governance mode needs
    /// `bypassGovernanceRetention` (and the `s3:BypassGovernanceRetention` permission), and in
    /// compliance mode is refused by S3.
    public func setObjectRetention(bucket: String, key: String, versionID: String? = nil, _ retention: S3ObjectRetention?,
                                   bypassGovernanceRetention: Bool = false) async throws {
        var r = try objectRequest("PUT", bucket: bucket, key: key)
        r.query = [("retention", "")]
        try Self.addVersion(versionID, to: &r)
        var xml = XMLWriter()
        xml.open("Retention", s3Namespace: true)
        if let retention {
            xml.element("Mode", retention.mode.rawValue)
            xml.element("RetainUntilDate", retention.retainUntilText)
        }
        xml.close("Retention")
        r.setXMLBody(xml)
        if bypassGovernanceRetention { r.headers.set("x-amz-bypass-governance-retention", "true") }
        _ = try await sendAndCollect(r)
    }

    /// Whether an object version is under a legal hold (GetObjectLegalHold); false when it has
    /// none.
    public func objectLegalHold(bucket: String, key: String, versionID: String? = nil) async throws -> Bool {
        var r = try objectRequest("GET", bucket: bucket, key: key)
        r.query = [("legal-hold", "")]
        try Self.addVersion(versionID, to: &r)
        do {
            let xml = try parse(try await sendAndCollect(r).body, expecting: "LegalHold", bucket: bucket, key: key)
            return ResponseDecoders.legalHold(xml)
        } catch let e as S3Error where ["NoSuchObjectLockConfiguration", "NoSuchObjectLegalHold"].contains(e.code.rawValue) {
            // SeaweedFS answers a version never held with NoSuchObjectLegalHold.
            return false
        }
    }

    /// Puts an object version under a legal hold (`true`) or lifts it (PutObjectLegalHold). A
    /// version under a legal hold cannot be deleted, whatever its retention, until it is lifted.
    public func setObjectLegalHold(bucket: String, key: String, versionID: String? = nil, _ on: Bool) async throws {
        var r = try objectRequest("PUT", bucket: bucket, key: key)
        r.query = [("legal-hold", "")]
        try Self.addVersion(versionID, to: &r)
        var xml = XMLWriter()
        xml.open("LegalHold", s3Namespace: true)
        xml.element("Status", on ? "ON" : "OFF")
        xml.close("LegalHold")
        r.setXMLBody(xml)
        _ = try await sendAndCollect(r)
    }
}
