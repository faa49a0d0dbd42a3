#if canImport(Glibc)
import Glibc
#endif
import CCurl
import S3Locking
import Synchronization

/// A fixed-size byte buffer for one part of a large transfer, mapped straight from the kernel
/// (`mmap`) and returned to it (`munmap`) when the last reference goes.
///
/// Part-sized `[UInt8]`s come from malloc's arenas, which keep freed megabytes around: over a
/// long multipart upload the process's resident memory crept up with the object's size. These
/// buffers keep it at the number of parts in flight.
///
/// Written by one task before it is shared; read-only afterwards (what makes it `Sendable`).
/// Package-internal: the transfers of the `S3` module use it; it is no API.
package final class PartBuffer: @unchecked Sendable {
    /// The start of the memory.
    package let base: UnsafeMutableRawPointer
    /// The capacity in bytes.
    package let capacity: Int
    /// Bytes in use (set by whoever fills the buffer, before sharing it).
    package var count: Int

    /// How many buffers exist now, and their bytes: for a soak's leak check (s3-soak samples
    /// them with the workload at rest, when none should).
    package static let live = Atomic<Int>(0)
    package static let liveBytes = Atomic<Int>(0)

    /// A zero-filled buffer of `capacity` bytes (at least 1), its pages faulted in at once
    /// (`MAP_POPULATE`): a buffer is filled (nearly) whole anyway, and one call costs less than a fault
    /// per 4 KiB page as the bytes arrive.
    package init(capacity: Int) {
        let size = max(capacity, 1)
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)
        guard let p, p != MAP_FAILED else { fatalError("mmap of \(size) bytes failed") }
        base = p
        self.capacity = size
        count = 0
        Self.live.add(1, ordering: .relaxed)
        Self.liveBytes.add(size, ordering: .relaxed)
    }

    deinit {
        munmap(base, capacity)
        Self.live.subtract(1, ordering: .relaxed)
        Self.liveBytes.subtract(capacity, ordering: .relaxed)
    }

    /// The bytes in use.
    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Appends `source` (which must fit).
    package func append(_ source: UnsafeRawBufferPointer) {
        precondition(count + source.count <= capacity, "PartBuffer overflow")
        if let s = source.baseAddress, source.count > 0 { (base + count).copyMemory(from: s, byteCount: source.count) }
        count += source.count
    }

    /// Appends `source` (which must fit) with streaming stores: for bytes off the network that
    /// nobody reads before the buffer is handed on.
    package func appendStreaming(_ source: UnsafeRawBufferPointer) {
        precondition(count + source.count <= capacity, "PartBuffer overflow")
        if let s = source.baseAddress, source.count > 0 { s3_copy_streaming(base + count, s, source.count) }
        count += source.count
    }
}

/// Part buffers of one size, taken and given back, so a transfer that moves many parts reuses
/// the same (already resident) pages instead of mapping and faulting in fresh ones for every
/// part. Keeps at most `keep` idle buffers; buffers beyond that go back to the kernel.
package final class PartBufferPool: Sendable {
    /// The capacity of every buffer.
    package let bufferSize: Int
    private let keep: Int
    private let idle = Locked<[PartBuffer]>([])

    /// A pool of buffers of `bufferSize` bytes, keeping at most `keep` idle.
    package init(bufferSize: Int, keep: Int) {
        self.bufferSize = max(bufferSize, 1)
        self.keep = max(keep, 0)
    }

    /// An empty buffer: an idle one, else a new one.
    package func take() -> PartBuffer {
        idle.withLock { $0.popLast() } ?? PartBuffer(capacity: bufferSize)
    }

    /// Returns `buffer` for reuse. Only give back a buffer nothing else uses any more (a
    /// request that had it as its `responseBuffer` must have ended).
    package func give(_ buffer: PartBuffer) {
        guard buffer.capacity == bufferSize else { return }
        buffer.count = 0
        idle.withLock { if $0.count < keep { $0.append(buffer) } }
    }
}
