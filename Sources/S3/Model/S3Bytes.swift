#if canImport(Glibc)
import Glibc
#endif
import Foundation
import S3HTTP

/// Bytes of an object, viewing the memory the transport received them into: handing them on
/// copies nothing.
///
/// A download that receives each range straight into a pooled buffer yields `S3Bytes` viewing
/// that buffer; the buffer goes back to the pool for the next range once every `S3Bytes` viewing
/// it is gone. Keep one only as long as you need its bytes: while you hold it, its buffer is not
/// reused (the download then takes another, and memory grows by one part).
///
/// It is a `RandomAccessCollection` of `UInt8` with contiguous storage and a `DataProtocol`, so
/// the usual calls take it without copying element by element:
///
/// ```swift
/// for try await bytes in bucket.downloadStream(key: "video.mp4") {
///     bytes.withUnsafeBytes { raw in hasher.update(raw) }   // no copy
///     try fileHandle.write(contentsOf: bytes)                // no copy
///     buffer += bytes                                        // one copy, into [UInt8]
///     let array = bytes.array, data = Data(bytes)            // one copy each
/// }
/// ```
public struct S3Bytes: RandomAccessCollection, DataProtocol, ContiguousBytes, @unchecked Sendable, Hashable, CustomStringConvertible {
    // Sendable: the memory is only read once views of it exist (the pool reuses a buffer only
    // after the last view, and so `owner`, is gone), and `owner` is immutable.
    public typealias Index = Int
    public typealias Element = UInt8
    public typealias SubSequence = S3Bytes
    public typealias Indices = Range<Int>

    /// Keeps the memory alive (and gives a pooled buffer back when the last view goes).
    private let owner: AnyObject
    /// Where index 0 is.
    private let base: UnsafeRawPointer
    /// Index of the first byte (0 unless this is a slice).
    public let startIndex: Int
    /// One past the last byte.
    public let endIndex: Int

    private init(owner: AnyObject, base: UnsafeRawPointer, startIndex: Int, endIndex: Int) {
        self.owner = owner
        self.base = base
        self.startIndex = startIndex
        self.endIndex = endIndex
    }

    /// A view of `count` bytes at `offset` of a pooled part buffer, handed back to `pool` when
    /// the last view of it goes.
    init(lease: PartBufferLease, offset: Int, count: Int) {
        precondition(offset >= 0 && count >= 0 && offset + count <= lease.buffer.count, "S3Bytes outside its buffer")
        self.init(owner: lease, base: UnsafeRawPointer(lease.buffer.base) + offset, startIndex: 0, endIndex: count)
    }

    /// A copy of `bytes` (for tests, fakes and callers that have an array).
    public init(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        let owner = S3BytesOwnedCopy(array)
        self.init(owner: owner, base: UnsafeRawPointer(owner.memory), startIndex: 0, endIndex: array.count)
    }

    /// No bytes.
    public init() { self.init(EmptyCollection()) }

    /// The byte at `position` (between `startIndex` and `endIndex`).
    public subscript(position: Int) -> UInt8 {
        precondition(position >= startIndex && position < endIndex, "S3Bytes index out of range")
        return base.load(fromByteOffset: position, as: UInt8.self)
    }

    /// A view of the bytes in `bounds`, sharing the memory (no copy); its indices are `bounds`.
    public subscript(bounds: Range<Int>) -> S3Bytes {
        precondition(bounds.lowerBound >= startIndex && bounds.upperBound <= endIndex, "S3Bytes slice out of range")
        return S3Bytes(owner: owner, base: base, startIndex: bounds.lowerBound, endIndex: bounds.upperBound)
    }

    /// `startIndex..<endIndex`.
    public var indices: Range<Int> { startIndex..<endIndex }

    /// The bytes as a raw buffer, valid only inside `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(owner) {
            try body(UnsafeRawBufferPointer(start: base + startIndex, count: endIndex - startIndex))
        }
    }

    /// The bytes as one region (`DataProtocol`).
    public var regions: CollectionOfOne<S3Bytes> { CollectionOfOne(self) }

    /// The bytes as a typed buffer (always available: the storage is contiguous), valid only
    /// inside `body`. What `Array.append(contentsOf:)` and `Data.init` use to copy in one go.
    public func withContiguousStorageIfAvailable<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R? {
        try withExtendedLifetime(owner) {
            try body(UnsafeBufferPointer(start: (base + startIndex).assumingMemoryBound(to: UInt8.self), count: endIndex - startIndex))
        }
    }

    /// A copy in an array.
    public var array: [UInt8] {
        withUnsafeBytes { [UInt8]($0) }
    }

    /// A copy in a `Data`.
    public var data: Data {
        withUnsafeBytes { Data($0) }
    }

    /// Whether both hold the same bytes (indices are not compared).
    public static func == (a: S3Bytes, b: S3Bytes) -> Bool {
        a.count == b.count && a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
    }

    /// Hashes the bytes.
    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// `"N bytes"` (the bytes themselves are not printed).
    public var description: String { "\(count) bytes" }
}

extension Array where Element == UInt8 {
    /// Appends the bytes in one copy.
    public static func += (lhs: inout [UInt8], rhs: S3Bytes) {
        rhs.withUnsafeBytes { lhs.append(contentsOf: $0) }
    }
}

/// A pooled part buffer, read-only while any view of it lives; given back to its pool after.
final class PartBufferLease: Sendable {
    let buffer: PartBuffer
    private let pool: PartBufferPool

    init(buffer: PartBuffer, pool: PartBufferPool) {
        self.buffer = buffer
        self.pool = pool
    }

    deinit { pool.give(buffer) }
}

/// Bytes copied out of a sequence, in memory of their own.
private final class S3BytesOwnedCopy {
    let memory: UnsafeMutableRawPointer

    init(_ bytes: [UInt8]) {
        memory = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { if let b = $0.baseAddress { memory.copyMemory(from: b, byteCount: $0.count) } }
    }

    deinit { memory.deallocate() }
}
