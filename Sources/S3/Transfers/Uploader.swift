import Foundation

/// Uploads one object from a stream or a file: one PUT when it fits in a part, else a
/// multipart upload, aborted on any failure (cancellation included) so that no orphaned
/// upload is left behind. Parts go one at a time here; memory holds at most one part.
struct Uploader: Sendable {
    let client: S3Client
    let bucket: String
    let key: String
    let metadata: [String: String]
    let contentType: String
    let partSize: Int

    /// S3's limits.
    static let minimumPartSize = 5 << 20
    static let maximumPartSize = 5 << 30
    static let maximumParts = 10_000
    static let maximumObjectSize: Int64 = 5 << 40

    init(client: S3Client, bucket: String, key: String, metadata: [String: String], contentType: String, partSize: Int) throws {
        try Validation.bucketName(bucket)
        try Validation.key(key, bucket: bucket)
        try Validation.metadata(metadata, bucket: bucket, key: key)
        guard (Self.minimumPartSize...Self.maximumPartSize).contains(partSize) else {
            throw S3Error.invalidArgument("part size must be between 5 MiB and 5 GiB, got \(partSize) bytes", bucket: bucket, key: key)
        }
        self.client = client
        self.bucket = bucket
        self.key = key
        self.metadata = metadata
        self.contentType = contentType
        self.partSize = partSize
    }

    /// A multipart upload in progress; aborted unless completed.
    final class Multipart: @unchecked Sendable {
        var uploadID: String?
        var parts: [S3CompletedPart] = []
    }

    func upload<Source: AsyncSequence>(_ source: Source) async throws -> S3PutObjectResult where Source.Element == [UInt8] {
        let state = Multipart()
        var buffer = [UInt8]()
        buffer.reserveCapacity(partSize)
        do {
            for try await chunk in source {
                var rest = chunk[...]
                while !rest.isEmpty {
                    if buffer.count == partSize {
                        // More data follows a full buffer: it is a part, not the whole object.
                        try await send(part: buffer, state: state)
                        buffer.removeAll(keepingCapacity: true)
                    }
                    let take = min(partSize - buffer.count, rest.count)
                    buffer.append(contentsOf: rest.prefix(take))
                    rest = rest.dropFirst(take)
                }
            }
            if state.uploadID == nil {
                return try await client.putObject(bucket: bucket, key: key, bytes: buffer, contentType: contentType, metadata: metadata)
            }
            if !buffer.isEmpty { try await send(part: buffer, state: state) }
            return try await complete(state)
        } catch {
            await abort(state)
            throw error
        }
    }

    func upload(file: URL) async throws -> S3PutObjectResult {
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw S3Error.invalidArgument("cannot open \(file.path) for upload: \(String(cString: strerror(errno)))", bucket: bucket, key: key)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw S3Error.invalidArgument("\(file.path) is not a regular file", bucket: bucket, key: key)
        }
        let size = Int64(st.st_size)
        guard size <= Self.maximumObjectSize else {
            throw S3Error.invalidArgument("\(file.path) is \(size) bytes; S3 objects hold at most 5 TiB", bucket: bucket, key: key)
        }
        if size <= Int64(partSize) {
            return try await client.putObject(bucket: bucket, key: key, fileDescriptor: fd, offset: 0, length: size,
                                              contentType: contentType, metadata: metadata)
        }
        // Grow the part size so the object fits in 10,000 parts.
        let part = max(Int64(partSize), (size + Int64(Self.maximumParts) - 1) / Int64(Self.maximumParts))
        let state = Multipart()
        do {
            var offset: Int64 = 0
            var buffer = [UInt8](repeating: 0, count: Int(part))
            while offset < size {
                let n = Int(min(part, size - offset))
                try Self.readFully(fd: fd, into: &buffer, count: n, at: offset, path: file.path, bucket: bucket, key: key)
                try await send(part: n == buffer.count ? buffer : Array(buffer[0..<n]), state: state)
                offset += Int64(n)
            }
            return try await complete(state)
        } catch {
            await abort(state)
            throw error
        }
    }

    static func readFully(fd: Int32, into buffer: inout [UInt8], count: Int, at offset: Int64, path: String, bucket: String, key: String) throws {
        var done = 0
        try buffer.withUnsafeMutableBytes { p in
            while done < count {
                let r = pread(fd, p.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if r < 0 && errno == EINTR { continue }
                if r <= 0 {
                    throw S3Error.invalidArgument("reading \(path) failed at byte \(offset + Int64(done))", bucket: bucket, key: key)
                }
                done += r
            }
        }
    }

    private func send(part: [UInt8], state: Multipart) async throws {
        if state.uploadID == nil {
            state.uploadID = try await client.createMultipartUpload(bucket: bucket, key: key, contentType: contentType, metadata: metadata)
        }
        guard state.parts.count < Self.maximumParts else {
            throw S3Error.invalidArgument("the upload needs more than 10,000 parts: use a larger part size", bucket: bucket, key: key)
        }
        let done = try await client.uploadPart(bucket: bucket, key: key, uploadID: state.uploadID!, partNumber: state.parts.count + 1, bytes: part)
        state.parts.append(done)
    }

    private func complete(_ state: Multipart) async throws -> S3PutObjectResult {
        let result = try await client.completeMultipartUpload(bucket: bucket, key: key, uploadID: state.uploadID!, parts: state.parts)
        state.uploadID = nil
        return result
    }

    /// Aborts the upload, even when the calling task was cancelled.
    private func abort(_ state: Multipart) async {
        guard let id = state.uploadID else { return }
        let (client, bucket, key) = (client, bucket, key)
        _ = await Task.detached { try await client.abortMultipartUpload(bucket: bucket, key: key, uploadID: id) }.result
    }
}
