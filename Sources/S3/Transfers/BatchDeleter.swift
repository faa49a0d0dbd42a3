/// Deletes many keys: 1,000 per DeleteObjects request, up to `concurrency` requests at once,
/// collecting the keys S3 refused.
struct BatchDeleter: Sendable {
    let client: S3Client
    let bucket: String
    var concurrency = 4

    /// Deletes every key `keys` yields. Returns how many were deleted; throws
    /// `.partialFailure` (with ``S3Error/failures``) when some were not.
    func deleteAll<Keys: AsyncSequence>(_ keys: Keys) async throws -> Int where Keys.Element == (key: String, versionID: String?) {
        var failures: [S3DeleteFailure] = []
        var deleted = 0
        try await withThrowingTaskGroup(of: (Int, [S3DeleteFailure]).self) { group in
            var running = 0
            var batch: [(key: String, versionID: String?)] = []
            func launch(_ b: [(key: String, versionID: String?)]) {
                let (client, bucket) = (client, bucket)
                group.addTask { (b.count, try await client.deleteObjects(bucket: bucket, keys: b)) }
                running += 1
            }
            func collect() async throws {
                if let (n, failed) = try await group.next() {
                    running -= 1
                    deleted += n - failed.count
                    failures += failed
                }
            }
            for try await entry in keys {
                batch.append(entry)
                if batch.count == 1000 {
                    if running == concurrency { try await collect() }
                    launch(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            if !batch.isEmpty { launch(batch) }
            while running > 0 { try await collect() }
        }
        if !failures.isEmpty { throw S3Error.partialFailure(failures, what: "key(s)", bucket: bucket) }
        return deleted
    }
}
