import Foundation

/// What differs between S3-compatible stores, as far as this client must adapt
/// (``S3Configuration/store``). Detected from the endpoint's host for AWS, R2, GCS and B2;
/// MinIO, Ceph and SeaweedFS run on hosts of their own, so say which one you use.
public enum S3StoreProfile: String, Sendable, Hashable, CaseIterable {
    /// Amazon S3: everything, full-object CRC checksums on multipart uploads.
    case aws
    /// Cloudflare R2: region `auto`; no bucket policy, ACL or public-access-block APIs;
    /// full-object multipart checksums only with CRC-64/NVME (so that is the algorithm);
    /// every part but the last of the same size (uploads of unknown length keep one part size).
    case r2
    /// Google Cloud Storage's XML API: no DeleteObjects (parallel single deletes instead); no
    /// `x-amz-checksum-*` (uploads carry `Content-MD5`; reads are checked by nothing but TLS
    /// and, for uploads, the signed SHA-256).
    case gcs
    /// Backblaze B2: rejects `x-amz-checksum-*` headers (400): uploads carry `Content-MD5`
    /// and the signed SHA-256 instead, reads are not checked.
    case b2
    /// MinIO: CRC checksums, but multipart uploads only as composite checksums (it answers
    /// `FULL_OBJECT` with InvalidPart).
    case minio
    /// Ceph RGW: CRC checksums; multipart as composite checksums.
    case ceph
    /// SeaweedFS: CRC checksums, verified, full-object multipart; no public-access-block API
    /// (`allowPublicAccess()` applies the bucket policy alone).
    case seaweedfs
    /// Any other store: treated as AWS; optional steps it answers with NotImplemented fall
    /// back where they can (public access block, DeleteObjects).
    case other

    /// The profile for an endpoint host: AWS, R2, GCS and B2 by their domain names, else `.other`.
    public static func detect(host: String) -> S3StoreProfile {
        let h = host.lowercased()
        if h == "amazonaws.com" || h.hasSuffix(".amazonaws.com") || h.hasSuffix(".amazonaws.com.cn") { return .aws }
        if h.hasSuffix(".r2.cloudflarestorage.com") { return .r2 }
        if h == "storage.googleapis.com" || h.hasSuffix(".storage.googleapis.com") { return .gcs }
        if h.hasSuffix(".backblazeb2.com") { return .b2 }
        return .other
    }

    /// Whether the store accepts and keeps `x-amz-checksum-*` headers.
    var acceptsChecksumHeaders: Bool { self != .b2 && self != .gcs }

    /// The algorithm uploads use by default.
    var defaultChecksumAlgorithm: S3ChecksumAlgorithm { self == .r2 ? .crc64nvme : .crc32c }

    /// Whether multipart uploads may declare `x-amz-checksum-type: FULL_OBJECT` with `algorithm`.
    func acceptsFullObjectMultipart(_ algorithm: S3ChecksumAlgorithm) -> Bool {
        switch self {
        case .minio, .ceph: false
        case .r2: algorithm == .crc64nvme
        default: algorithm.crcKind != nil
        }
    }

    /// Whether the store has DeleteObjects (POST ?delete).
    var hasDeleteObjects: Bool { self != .gcs }

    /// Whether the store has the PublicAccessBlock API.
    var hasPublicAccessBlock: Bool { ![.r2, .gcs, .seaweedfs].contains(self) }

    /// Whether the store has bucket policies.
    var hasBucketPolicy: Bool { self != .r2 }

    /// Whether all parts but the last must be the same size.
    var requiresEqualParts: Bool { self == .r2 }
}
