import Foundation

/// Downloads one object as a stream, to a sink or to a file.
struct Downloader: Sendable {
    let client: S3Client
    let bucket: String
    let key: String

    func download(_ sink: ([UInt8]) async throws -> Void) async throws {
        let download = try await client.getObject(bucket: bucket, key: key)
        for try await chunk in download.body { try await sink(chunk) }
    }

    /// Streams into a temporary file beside `url`, renamed to `url` only when complete.
    func download(to url: URL) async throws {
        let download = try await client.getObject(bucket: bucket, key: key)
        let directory = url.deletingLastPathComponent().path
        let temp = directory + "/." + url.lastPathComponent + ".s3-partial-" + UUID().uuidString.prefix(8)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            download.body.cancel()
            throw S3Error.invalidArgument("cannot create \(temp): \(String(cString: strerror(errno)))", bucket: bucket, key: key)
        }
        do {
            for try await chunk in download.body { try Self.writeAll(fd: fd, chunk) }
            guard close(fd) == 0 else { throw S3Error.invalidArgument("closing \(temp) failed: \(String(cString: strerror(errno)))", bucket: bucket, key: key) }
            guard rename(temp, url.path) == 0 else {
                throw S3Error.invalidArgument("cannot move the download to \(url.path): \(String(cString: strerror(errno)))", bucket: bucket, key: key)
            }
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
    }

    static func writeAll(fd: Int32, _ bytes: [UInt8]) throws {
        var done = 0
        try bytes.withUnsafeBytes { p in
            while done < p.count {
                let r = write(fd, p.baseAddress! + done, p.count - done)
                if r < 0 && errno == EINTR { continue }
                if r < 0 { throw S3Error.invalidArgument("writing the download failed: \(String(cString: strerror(errno)))") }
                done += r
            }
        }
    }
}
