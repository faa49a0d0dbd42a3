import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The paths a sync will delete, kept in an unlinked temporary file (NUL after each: a key
/// holds no NUL) until both listings have been merged to the end. Deleting only then means an
/// error midway, or a listing found out of order, deletes nothing; and memory stays flat
/// however many paths there are.
final class DeleteSpool {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var count = 0

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/s3-sync-deletes-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw S3Error.invalidArgument("cannot make a temporary file: \(String(cString: strerror(errno)))") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        self.fd = fd
    }

    deinit { close(fd) }

    func append(_ path: String) throws {
        buffer += path.utf8
        buffer.append(0)
        count += 1
        if buffer.count >= 1 << 16 { try flush() }
    }

    private func flush() throws {
        var done = 0
        while done < buffer.count {
            let n = buffer[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw S3Error.invalidArgument("cannot write a temporary file: \(String(cString: strerror(errno)))") }
            done += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Every path, in the order appended, `batchSize` at a time.
    func batches(of batchSize: Int, _ body: ([String]) async throws -> Void) async throws {
        try flush()
        var offset: off_t = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var partial: [UInt8] = []
        var batch: [String] = []
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw S3Error.invalidArgument("cannot read a temporary file: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            offset += off_t(n)
            for byte in chunk[..<n] {
                if byte == 0 {
                    batch.append(String(decoding: partial, as: UTF8.self))
                    partial.removeAll(keepingCapacity: true)
                    if batch.count == batchSize {
                        try await body(batch)
                        batch.removeAll(keepingCapacity: true)
                    }
                } else {
                    partial.append(byte)
                }
            }
        }
        if !batch.isEmpty { try await body(batch) }
    }
}
