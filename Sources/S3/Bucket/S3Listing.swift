/// One entry of a delimited listing: an object, or a common prefix (a "folder").
public enum S3ListEntry: Sendable {
    /// An object directly under the prefix.
    case object(S3Object)
    /// A common prefix: keys below it are rolled up into this one entry.
    case commonPrefix(String)
}

/// Lazily pages through ListObjectsV2: a page is fetched only when the consumer has used up
/// the previous one, and cancelling the consuming task stops it.
struct ListingPager: Sendable {
    let client: S3Client
    let bucket: String
    let prefix: String?
    let delimiter: String?
    let maxKeys: Int?

    struct State {
        var entries: [S3ListEntry] = []
        var index = 0
        var token: String?
        var started = false
        var finished = false
    }

    /// The next entry; with `includePrefixes` false, only objects.
    /// Runs on the caller's executor (`isolation`): only the page fetch leaves it, so a
    /// consumer on an actor does not hop twice per entry.
    func next(_ s: inout State, includePrefixes: Bool, isolation actor: isolated (any Actor)? = #isolation) async throws -> S3ListEntry? {
        while true {
            if s.index < s.entries.count {
                defer { s.index += 1 }
                return s.entries[s.index]
            }
            if s.finished { return nil }
            try Task.checkCancellation()
            let page = try await client.listObjectsV2(bucket: bucket, prefix: prefix, delimiter: delimiter, maxKeys: maxKeys,
                                                      continuationToken: s.started ? s.token : nil)
            s.started = true
            var entries = page.objects.map { S3ListEntry.object(S3Object(bucketName: bucket, key: $0.key, client: client, summary: $0)) }
            if includePrefixes {
                // Objects and prefixes interleave in key order, as S3 defines them.
                entries += page.commonPrefixes.map(S3ListEntry.commonPrefix)
                entries.sort { Self.sortKey($0).utf8.lexicographicallyPrecedes(Self.sortKey($1).utf8) }
            }
            s.entries = entries
            s.index = 0
            s.token = page.nextContinuationToken
            s.finished = !page.isTruncated || page.nextContinuationToken == nil
        }
    }

    static func sortKey(_ e: S3ListEntry) -> String {
        switch e {
        case .object(let o): return o.key
        case .commonPrefix(let p): return p
        }
    }
}

/// The objects of a bucket (optionally under a prefix), as a lazy `AsyncSequence` of
/// ``S3Object``. With a delimiter, keys below a common prefix are left out; iterate
/// ``S3Bucket/findEntries(prefix:delimiter:maxKeys:)`` to see the prefixes too.
public struct S3ObjectSequence: AsyncSequence, Sendable {
    public typealias Element = S3Object
    public typealias Failure = any Error
    let pager: ListingPager

    public func makeAsyncIterator() -> Iterator { Iterator(pager: pager) }

    /// Fetches one page at a time.
    public struct Iterator: AsyncIteratorProtocol {
        var entries: S3EntrySequence.Iterator

        init(pager: ListingPager) { entries = S3EntrySequence.Iterator(pager: pager, includePrefixes: false) }

        public mutating func next() async throws -> S3Object? {
            try await next(isolation: nil)
        }

        /// The next object, without leaving the caller's actor unless a page must be fetched.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> S3Object? {
            guard case .object(let o)? = try await entries.next(isolation: actor) else { return nil }
            return o
        }
    }
}

/// Objects and common prefixes of a delimited listing, in key order, as a lazy `AsyncSequence`.
public struct S3EntrySequence: AsyncSequence, Sendable {
    public typealias Element = S3ListEntry
    public typealias Failure = any Error
    let pager: ListingPager

    public func makeAsyncIterator() -> Iterator { Iterator(pager: pager, includePrefixes: true) }

    /// Fetches one page at a time.
    public struct Iterator: AsyncIteratorProtocol {
        let pager: ListingPager
        let includePrefixes: Bool
        var state = ListingPager.State()

        public mutating func next() async throws -> S3ListEntry? {
            try await next(isolation: nil)
        }

        /// The next entry, without leaving the caller's actor unless a page must be fetched.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> S3ListEntry? {
            try await pager.next(&state, includePrefixes: includePrefixes, isolation: actor)
        }
    }
}
