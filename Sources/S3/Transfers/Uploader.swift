import Foundation
import S3HTTP
import S3Signing

/// Uploads one object: one PUT up to the multipart threshold, else a multipart upload whose
/// parts go up in a sliding window of `concurrency` tasks (when one finishes, the next starts).
///
/// Memory holds at most `concurrency` parts. Each request (every part) goes through the
/// client's pipeline, which retries it on its own (``S3RetryPolicy``, or the transfer's). On failure or cancellation the upload is aborted, so no orphaned
/// upload remains, unless the caller asked to keep it: then the error is `.uploadIncomplete`
/// with an ``S3UploadResumeState``. Completion checks the multipart ETag (`md5-of-md5s-N`)
/// against the MD5s of the parts sent.
struct Uploader: Sendable {
    let client: S3Client
    let bucket: String
    let key: String
    let metadata: [String: String]
    let properties: S3ObjectProperties
    let contentType: String
    let options: S3TransferOptions

    /// S3's limits.
    static let minimumPartSize = 5 << 20
    static let maximumPartSize = 5 << 30
    static let maximumParts = 10_000  // S3's limit; a transfer's own is `S3TransferOptions.maximumParts`
    static let maximumObjectSize: Int64 = 5 << 40

    init(client: S3Client, bucket: String, key: String, metadata: [String: String], contentType: String, options: S3TransferOptions,
         properties: S3ObjectProperties = S3ObjectProperties()) throws {
        _ = try properties.headers(bucket: bucket, key: key)
        self.properties = properties
        try Validation.bucketName(bucket)
        try Validation.key(key, bucket: bucket)
        try Validation.metadata(metadata, bucket: bucket, key: key)
        guard (Self.minimumPartSize...Self.maximumPartSize).contains(options.partSize) else {
            throw S3Error.invalidArgument("part size must be between 5 MiB and 5 GiB, got \(options.partSize) bytes", bucket: bucket, key: key)
        }
        guard options.concurrency >= 1 else {
            throw S3Error.invalidArgument("concurrency must be at least 1, got \(options.concurrency)", bucket: bucket, key: key)
        }
        self.client = client
        self.bucket = bucket
        self.key = key
        self.metadata = metadata
        self.contentType = contentType
        self.options = options
    }

    private var threshold: Int { max(options.multipartThreshold, 1) }

    // MARK: - Sources

    /// From an async sequence of unknown length: reads ahead into at most `concurrency` parts.
    func upload<Source: AsyncSequence>(_ source: Source) async throws -> S3PutObjectResult where Source.Element == [UInt8] {
        var iterator = source.makeAsyncIterator()
        // Read up to the threshold (plus one byte) to choose between one PUT and multipart.
        var head = [UInt8]()
        var pending: ArraySlice<UInt8> = []
        while head.count <= threshold, let chunk = try await iterator.next() {
            head += chunk
        }
        // A cancelled consumer makes many sequences simply end: never store a truncated object.
        try Task.checkCancellation()
        if head.count <= threshold {
            return try await singlePut(count: head.count) {
                try await client.putObject(bucket: bucket, key: key, bytes: head, contentType: contentType, metadata: metadata, properties: properties)
            }
        }
        pending = head[...]
        head = []
        var exhausted = false
        // The length is unknown, so parts grow (``streamPartSize``) to let 10,000 of them hold 5 TiB.
        // (A store that needs parts of one size, R2, keeps the first size: 10,000 parts of it.)
        let (base, maximumParts) = (options.partSize, client.configuration.store.requiresEqualParts ? Int.max / 2 : options.maximumParts)
        var number = 0
        var sizedPool: PartBufferPool?
        return try await multipart(partSize: base, total: nil, resume: nil, partSizeAt: { Self.streamPartSize(part: $0, base: base, maximumParts: maximumParts) }) {
            (pool: PartBufferPool) async throws -> PartBuffer? in
            number += 1
            let partSize = Self.streamPartSize(part: number, base: base, maximumParts: maximumParts)
            if partSize == pool.bufferSize {
                sizedPool = pool
            } else if sizedPool?.bufferSize != partSize {
                sizedPool = PartBufferPool(bufferSize: partSize, keep: 0)
            }
            let part = sizedPool!.take()
            while part.count < partSize {
                if pending.isEmpty {
                    if exhausted { break }
                    guard let chunk = try await iterator.next() else { exhausted = true; break }
                    pending = chunk[...]
                    continue
                }
                let take = min(partSize - part.count, pending.count)
                pending.prefix(take).withUnsafeBytes { part.append($0) }
                pending = pending.dropFirst(take)
            }
            if part.count == 0 {
                pool.give(part)
                return nil
            }
            return part
        }
    }

    /// The size of part `part` (from 1) of an upload of unknown length: `base`, doubled every
    /// `ceil(maximumParts / 11)` parts, up to S3's 5 GiB. With the default 8 MiB and 10,000 parts: 8 MiB for parts 1-910, 16 MiB
    /// for 911-1,820, ..., reaching 5 GiB parts; 10,000 parts then hold more than 5 TiB (at
    /// least 9 TiB for any base of 5 MiB or more), the largest object S3 stores.
    static func streamPartSize(part: Int, base: Int, maximumParts: Int) -> Int {
        let group = max((maximumParts + 10) / 11, 1)
        let doublings = min((part - 1) / group, 20)
        return min(base << doublings, max(maximumPartSize, base))
    }

    /// From bytes in memory.
    func upload(bytes: [UInt8]) async throws -> S3PutObjectResult {
        if bytes.count <= threshold {
            return try await singlePut(count: bytes.count) {
                try await client.putObject(bucket: bucket, key: key, bytes: bytes, contentType: contentType, metadata: metadata, properties: properties)
            }
        }
        let partSize = Self.partSize(for: Int64(bytes.count), preferred: options.partSize)
        var offset = 0
        return try await multipart(partSize: partSize, total: Int64(bytes.count), resume: nil) { (pool: PartBufferPool) -> PartBuffer? in
            guard offset < bytes.count else { return nil }
            let end = min(offset + partSize, bytes.count)
            defer { offset = end }
            let part = pool.take()
            bytes[offset..<end].withUnsafeBytes { part.append($0) }
            return part
        }
    }

    /// From a file: each part read from its offset with `pread`.
    func upload(file: URL) async throws -> S3PutObjectResult {
        let handle = try OpenFile(file, bucket: bucket, key: key)
        if handle.size <= Int64(threshold) {
            return try await singlePut(count: Int(handle.size)) {
                try await client.putObject(bucket: bucket, key: key, fileDescriptor: handle.fd, offset: 0, length: handle.size,
                                           contentType: contentType, metadata: metadata, properties: properties)
            }
        }
        return try await upload(handle, resume: nil)
    }

    /// Finishes a kept multipart upload of `file`: the parts ListParts reports are skipped.
    func resume(_ state: S3UploadResumeState, file: URL) async throws -> S3PutObjectResult {
        let handle = try OpenFile(file, bucket: bucket, key: key)
        return try await options.withRetryPolicy {
            let onServer = try await client.listParts(bucket: bucket, key: key, uploadID: state.uploadID)
            return try await upload(handle, resume: (state, onServer))
        }
    }

    private func upload(_ handle: OpenFile, resume: (S3UploadResumeState, [S3CompletedPart])?) async throws -> S3PutObjectResult {
        guard handle.size <= Self.maximumObjectSize else {
            throw S3Error.invalidArgument("\(handle.path) is \(handle.size) bytes; S3 objects hold at most 5 TiB", bucket: bucket, key: key)
        }
        let partSize = resume?.0.partSize ?? Self.partSize(for: handle.size, preferred: options.partSize)
        var offset: Int64 = 0
        return try await multipart(partSize: partSize, total: handle.size, resume: resume) { (pool: PartBufferPool) throws -> PartBuffer? in
            guard offset < handle.size else { return nil }
            let n = Int(min(Int64(partSize), handle.size - offset))
            defer { offset += Int64(n) }
            return try handle.read(count: n, at: offset, into: pool.take(), bucket: bucket, key: key)
        }
    }

    /// One PUT, retried, holding one shared permit, reported to the progress meters.
    private func singlePut(count: Int, _ put: () async throws -> S3PutObjectResult) async throws -> S3PutObjectResult {
        let meter = ProgressMeter(total: Int64(count), callback: options.progress, parent: options.parentMeter)
        try await options.limiter?.acquire()
        defer { options.limiter?.release() }
        let result = try await options.withRetryPolicy(put)
        meter.add(bytes: count, partDone: true)
        meter.finish()
        return result
    }

    /// The part size for `size` bytes: the preferred one, grown so that 10,000 parts suffice.
    static func partSize(for size: Int64, preferred: Int) -> Int {
        Int(max(Int64(preferred), (size + Int64(maximumParts) - 1) / Int64(maximumParts)))
    }

    // MARK: - The multipart engine

    /// Runs a multipart upload of the parts `nextPart` yields in order (called from one task,
    /// never concurrently), `concurrency` parts in flight. Parts are filled into buffers of
    /// `partSize` from a pool, given back once sent, so the same pages carry every part.
    private func multipart(partSize: Int, total: Int64?, resume: (S3UploadResumeState, [S3CompletedPart])?,
                           partSizeAt: ((Int) -> Int)? = nil,
                           nextPart: (PartBufferPool) async throws -> PartBuffer?) async throws -> S3PutObjectResult {
        // An SSE-C upload sends its key with every part too; another encryption sends none.
        try await S3CustomerKey.forWrites(of: properties.encryption) {
            try await options.withRetryPolicy {
                try await runMultipart(partSize: partSize, total: total, resume: resume, partSizeAt: partSizeAt, nextPart: nextPart)
            }
        }
    }

    /// `partSizeAt`, when given, is the size of each part by number (growing parts): the window
    /// then holds fewer parts as they grow, so memory stays near `concurrency x partSize`.
    private func runMultipart(partSize: Int, total: Int64?, resume: (S3UploadResumeState, [S3CompletedPart])?,
                              partSizeAt: ((Int) -> Int)?,
                              nextPart: (PartBufferPool) async throws -> PartBuffer?) async throws -> S3PutObjectResult {
        let pool = PartBufferPool(bufferSize: partSize, keep: options.concurrency)
        let sendMD5 = options.contentMD5
        let partCRC = try client.configuration.uploadChecksum(bucket: bucket, key: key)?.crcKind
        let (client, bucket, key) = (client, bucket, key)
        let uploadID: String
        let fullObject: Bool
        if let resume {
            (uploadID, fullObject) = (resume.0.uploadID, resume.0.fullObjectChecksum)
        } else {
            let (contentType, metadata, properties) = (contentType, metadata, properties)
            (uploadID, fullObject) = try await client.createLeavingNothing(bucket: bucket, key: key) {
                let started = try await client.startMultipartUpload(bucket: bucket, key: key, contentType: contentType,
                                                                    metadata: metadata, properties: properties, fallBack: true)
                return ((started.uploadID, started.fullObject), started.uploadID, started.attempts)
            }
        }
        let alreadyThere = Dictionary((resume?.1 ?? []).map { ($0.partNumber, $0) }, uniquingKeysWith: { a, _ in a })
        let meter = ProgressMeter(total: total, callback: options.progress, parent: options.parentMeter)
        var done: [Int: (part: S3CompletedPart, md5: [UInt8]?)] = [:]
        do {
            try await withThrowingTaskGroup(of: (S3CompletedPart, [UInt8]?).self) { group in
                var inFlight = 0
                var number = 0
                let limiter = options.limiter
                while true {
                    // A free slot first, then the shared permit, then read the part: memory holds
                    // at most `concurrency` parts. The part's task returns the permit; any other
                    // way out of this iteration returns it here.
                    let nextSize = partSizeAt?(number + 1) ?? partSize
                    let window = max(1, options.concurrency * partSize / max(nextSize, 1))
                    while inFlight >= window, let (part, md5) = try await group.next() {
                        done[part.partNumber] = (part, md5)
                        inFlight -= 1
                    }
                    try await limiter?.acquire()
                    var handedOff = false
                    defer { if !handedOff { limiter?.release() } }
                    guard let bytes = try await nextPart(pool) else { break }
                    number += 1
                    guard number <= options.maximumParts else {
                        throw S3Error.invalidArgument("the upload needs more than \(options.maximumParts) parts of \(partSize) bytes: use a larger part size",
                                                      bucket: bucket, key: key)
                    }
                    if var existing = alreadyThere[number] {
                        // A part already on the server (resuming): its bytes were read anyway, so its
                        // CRC and size are known, and the completion can carry the whole object's
                        // CRC (ListParts reports neither on moto or SeaweedFS). Should the file have
                        // changed since, the store refuses that completion instead of storing a mix.
                        if let kind = partCRC, existing.checksum == nil || existing.checksum?.algorithm.crcKind == kind {
                            existing.checksum = S3Checksum(CRC(kind, of: bytes.bytes))
                        }
                        existing.size = Int64(bytes.count)
                        done[number] = (existing, nil)
                        meter.add(bytes: bytes.count, partDone: true)
                        pool.give(bytes)
                        continue
                    }
                    let partNumber = number
                    group.addTask {
                        defer { limiter?.release() }
                        let md5 = sendMD5 ? Digest.md5(bytes.bytes) : nil
                        let part = try await client.uploadPart(bucket: bucket, key: key, uploadID: uploadID, partNumber: partNumber,
                                                               buffer: bytes, md5: md5)
                        meter.add(bytes: bytes.count, partDone: true)
                        pool.give(bytes)
                        return (part, md5)
                    }
                    handedOff = true
                    inFlight += 1
                }
                while let (part, md5) = try await group.next() { done[part.partNumber] = (part, md5) }
                try Task.checkCancellation()
            }
            let parts = done.keys.sorted().map { done[$0]!.part }
            let result = try await client.completeMultipartUpload(bucket: bucket, key: key, uploadID: uploadID, parts: parts, fullObject: fullObject)
            meter.finish()
            if sendMD5 { try verify(result, parts: done.keys.sorted().map { done[$0]! }) }
            return result
        } catch {
            if options.keepPartialUploadOnFailure {
                var e = S3Error(code: .uploadIncomplete, message: "the multipart upload failed and was kept for resuming: \(error)",
                                bucket: bucket, key: key, underlying: error)
                e.resumeState = S3UploadResumeState(bucket: bucket, key: key, uploadID: uploadID, partSize: partSize,
                                                    completedParts: done.keys.sorted().map { done[$0]!.part }, fullObjectChecksum: fullObject)
                throw e
            }
            if let abortError = await client.abortLeavingNothing(bucket: bucket, key: key, uploadID: uploadID) {
                // The upload stays on the store (and costs storage): say so, with what resuming
                // or aborting it later needs.
                var e = S3Error(code: .uploadIncomplete,
                                message: "the multipart upload failed (\(error)) and could not be aborted (\(abortError)); "
                                    + "resume it, or abort upload ID \(uploadID)",
                                bucket: bucket, key: key, underlying: error)
                e.resumeState = S3UploadResumeState(bucket: bucket, key: key, uploadID: uploadID, partSize: partSize,
                                                    completedParts: done.keys.sorted().map { done[$0]!.part }, fullObjectChecksum: fullObject)
                throw e
            }
            throw error
        }
    }

    /// A multipart ETag is the MD5 of the parts' MD5s, then `-N`. When the store reports that
    /// form, it must match what was sent.
    private func verify(_ result: S3PutObjectResult, parts: [(part: S3CompletedPart, md5: [UInt8]?)]) throws {
        guard let eTag = result.eTag, let dash = eTag.lastIndex(of: "-"), Int(eTag[eTag.index(after: dash)...]) != nil else { return }
        var all = [UInt8]()
        for (part, md5) in parts {
            if let md5 {
                all += md5
            } else if let bytes = Self.hexBytes(part.eTag), bytes.count == 16 {
                all += bytes
            } else {
                return  // a part whose MD5 we cannot know (e.g. encrypted stores): nothing to compare
            }
        }
        let expected = Digest.hex(Digest.md5(all)) + "-\(parts.count)"
        guard eTag == expected else {
            throw S3Error(code: .integrityFailure, message: "the stored object's ETag \(eTag) does not match the parts sent (\(expected))",
                          bucket: bucket, key: key)
        }
    }

    static func hexBytes(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        var i = 0
        while i < u.count {
            guard let hi = UInt8(String(UnicodeScalar(u[i])), radix: 16), let lo = UInt8(String(UnicodeScalar(u[i + 1])), radix: 16) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}

/// An open regular file, closed when released.
final class OpenFile: Sendable {
    let fd: Int32
    let size: Int64
    let path: String

    init(_ url: URL, bucket: String, key: String) throws {
        path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw S3Error.invalidArgument("cannot open \(path) for upload: \(String(cString: strerror(errno)))", bucket: bucket, key: key)
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw S3Error.invalidArgument("\(path) is not a regular file", bucket: bucket, key: key)
        }
        self.fd = fd
        self.size = Int64(st.st_size)
    }

    deinit { close(fd) }

    /// `count` bytes from `offset`, into `buffer` (empty, with room for them).
    func read(count: Int, at offset: Int64, into buffer: PartBuffer, bucket: String, key: String) throws -> PartBuffer {
        precondition(buffer.count == 0 && buffer.capacity >= count)
        var done = 0
        while done < count {
            let r = pread(fd, buffer.base + done, count - done, off_t(offset) + off_t(done))
            if r < 0 && errno == EINTR { continue }
            if r <= 0 {
                throw S3Error.invalidArgument("reading \(path) failed at byte \(offset + Int64(done)) (did the file shrink?)", bucket: bucket, key: key)
            }
            done += r
        }
        buffer.count = count
        return buffer
    }
}
