import NIOConcurrencyHelpers
import NIOCore
import S3Signing

/// An object as the benchmark server keeps it: the body as the slices the socket delivered
/// (never copied into one buffer), an ETag, and what a HEAD reports.
struct StoredObject {
    var chunks: [ByteBuffer]
    var size: Int
    var etag: String
    var contentType: String
    var lastModified: String
    var metadata: [(String, String)]

    /// The slices covering `range` (inclusive bounds), without copying bytes.
    func slices(_ range: ClosedRange<Int>) -> [ByteBuffer] {
        var out: [ByteBuffer] = []
        var offset = 0
        for chunk in chunks {
            let count = chunk.readableBytes
            defer { offset += count }
            let start = max(range.lowerBound, offset), end = min(range.upperBound + 1, offset + count)
            guard start < end else { if offset > range.upperBound { break } else { continue } }
            out.append(chunk.getSlice(at: chunk.readerIndex + start - offset, length: end - start)!)
        }
        return out
    }
}

/// One multipart upload in progress: parts by number.
struct PendingUpload {
    var key: String
    var contentType: String
    var parts: [Int: StoredObject] = [:]
}

/// Buckets, objects and multipart uploads, in memory, behind one lock. Everything the
/// handlers do with it is a dictionary look-up or a pointer copy, so the lock is held briefly.
final class ObjectStore: Sendable {
    /// Only touched inside `state`'s lock (`withBucket`), hence unchecked.
    final class Bucket: @unchecked Sendable {
        var objects: [String: StoredObject] = [:]
        var sortedKeys: [String]? = []
        var uploads: [String: PendingUpload] = [:]

        func keysInOrder() -> [String] {
            if let sortedKeys { return sortedKeys }
            // Compared as UTF-8 (S3's order) in place: copying both keys into arrays for every
            // comparison made the first listing after 2,000 PUTs take a second (40,000 keys).
            let keys = objects.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            sortedKeys = keys
            return keys
        }
    }

    private let state = NIOLockedValueBox<(buckets: [String: Bucket], nextID: Int)>(([:], 1))

    func createBucket(_ name: String) -> Bool {
        state.withLockedValue { s in
            if s.buckets[name] != nil { return false }
            s.buckets[name] = Bucket()
            return true
        }
    }

    func deleteBucket(_ name: String) -> String? {
        state.withLockedValue { s in
            guard let bucket = s.buckets[name] else { return "NoSuchBucket" }
            if !bucket.objects.isEmpty { return "BucketNotEmpty" }
            s.buckets[name] = nil
            return nil
        }
    }

    func bucketNames() -> [String] { state.withLockedValue { $0.buckets.keys.sorted() } }

    /// Runs `body` on the bucket under the lock; nil when there is no such bucket.
    func withBucket<T>(_ name: String, _ body: (Bucket) -> T) -> T? {
        state.withLockedValue { s in s.buckets[name].map(body) }
    }

    func put(_ name: String, key: String, object: StoredObject) -> Bool {
        withBucket(name) { (bucket: Bucket) -> Void in
            if bucket.objects.updateValue(object, forKey: key) == nil { bucket.sortedKeys = nil }
        } != nil
    }

    func delete(_ name: String, key: String) {
        _ = withBucket(name) { bucket in
            if bucket.objects.removeValue(forKey: key) != nil { bucket.sortedKeys = nil }
        }
    }

    func object(_ name: String, key: String) -> StoredObject?? {
        withBucket(name) { $0.objects[key] }
    }

    func newUploadID() -> String {
        state.withLockedValue { s in
            defer { s.nextID += 1 }
            return "upload-\(s.nextID)"
        }
    }

    func uniqueETag() -> String {
        let id = state.withLockedValue { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
        return Digest.hex(Digest.md5(Array("etag-\(id)".utf8)))
    }
}
