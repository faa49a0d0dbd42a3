/// Who owns the objects written to a bucket, and so whether ACLs count (a bucket's ownership
/// controls, PutBucketOwnershipControls).
public enum S3ObjectOwnership: String, Sendable, Hashable, CaseIterable, Codable {
    /// The bucket owner owns every object and ACLs are disabled: access is decided by
    /// policies alone. S3's default for new buckets since April 2023.
    case bucketOwnerEnforced = "BucketOwnerEnforced"
    /// The bucket owner owns objects written with the `bucket-owner-full-control` ACL; ACLs
    /// still count.
    case bucketOwnerPreferred = "BucketOwnerPreferred"
    /// The account that writes an object owns it; ACLs count.
    case objectWriter = "ObjectWriter"
}
