import CCurl
#if canImport(Glibc)
import Glibc
#endif

/// An open file that response bodies are written into at given offsets, on the loop thread
/// (the ranged downloads to a file). It owns its own descriptor, a duplicate of the caller's:
/// a transfer keeps the file alive, so a transfer still being torn down after its caller gave
/// up writes into the same file, never into whatever the caller's descriptor number was
/// reused for. The descriptor is closed when the last reference goes.
///
/// Package-internal: the downloads of the `S3` module use it; it is no API.
package final class ResponseFile: Sendable {
    /// The descriptor (a duplicate; closed on deinit).
    package let fd: Int32

    /// A duplicate of `fd`, or nil with `errno` set.
    package init?(duplicating fd: Int32) {
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { return nil }
        self.fd = copy
    }

    deinit { close(fd) }

    /// Allocates the file's blocks for its first `length` bytes up front (`fallocate`; the size
    /// becomes `length`). Writing into allocated blocks costs the file system less than
    /// allocating them page by page as the bytes arrive (1 GiB spliced into ext4: 0.29 s instead
    /// of 0.41), and a disk too small fails here, before the bytes are fetched. Returns 0, or the
    /// `errno`: `ENOSPC` and `EFBIG` are real answers; others (`EOPNOTSUPP` on a file system
    /// without it) only mean the blocks are allocated as the bytes come.
    package func reserve(_ length: Int64) -> Int32 {
        guard length > 0 else { return 0 }
        while s3_fallocate(fd, length) != 0 {
            if errno == EINTR { continue }
            return errno
        }
        return 0
    }

    /// The most bytes one system call writes into a file (`pwrite`, or `splice` from a pipe).
    ///
    /// Linux sizes the page-cache folios of a buffered write by the length of the call: 1 MiB
    /// calls get large folios, 256 KiB ones smaller. Large folios were a little faster where the
    /// machine's free memory was host-backed (1 GiB in 0.15 s against 0.17 s), and far slower
    /// where the host had taken the free pages back, as a VM with free-page reporting does
    /// (0.92-1.3 s against 0.17 s; 1 GiB to an ext4 file, 3 runs each, on this project's
    /// benchmark machine, a Firecracker guest). 256 KiB is fast in both.
    package static let writeStep = 256 << 10

    /// Writes all of `bytes` at `offset`, at most ``writeStep`` per call; the `errno` of a
    /// failed `pwrite`, else 0.
    package func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) -> Int32 {
        Self.write(fd: fd, bytes, at: offset)
    }

    /// Writes all of `bytes` to `fd`, at most ``writeStep`` per call: at `offset` (`pwrite`),
    /// or at the descriptor's position when `offset` is nil (`write`). The `errno` of a failed
    /// call (`EIO` for one that wrote nothing), else 0.
    package static func write(fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64?) -> Int32 {
        var done = 0
        while done < bytes.count {
            let step = min(bytes.count - done, writeStep)
            let n = offset.map { pwrite(fd, bytes.baseAddress! + done, step, off_t($0) + off_t(done)) }
                ?? Glibc.write(fd, bytes.baseAddress! + done, step)
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if n == 0 { return EIO }
            done += n
        }
        return 0
    }
}

/// Where a response body goes in a ``ResponseFile``: the bytes from `offset` on, at most
/// `length` of them.
package struct ResponseFileRange: Sendable {
    /// The file.
    package var file: ResponseFile
    /// Where the body's first byte goes.
    package var offset: Int64
    /// The most bytes the body may have; a longer one fails with `.bodyTooLarge` before a byte
    /// past `offset + length` is written.
    package var length: Int64

    /// A place in `file`.
    package init(file: ResponseFile, offset: Int64, length: Int64) {
        self.file = file
        self.offset = offset
        self.length = length
    }
}
