import Foundation
import S3HTTP
import Testing
@testable import S3

/// `S3Bytes`, the zero-copy element of the ranged download: a collection view, its conversions,
/// and the return of its pooled buffer once the last view is gone.
@Suite struct S3BytesTests {
    @Test func isACollectionOfItsBytes() {
        let bytes = S3Bytes([1, 2, 3, 4, 5] as [UInt8])
        #expect(bytes.count == 5 && Array(bytes) == [1, 2, 3, 4, 5] && bytes.array == [1, 2, 3, 4, 5])
        #expect(bytes.data == Data([1, 2, 3, 4, 5]) && Data(bytes) == Data([1, 2, 3, 4, 5]))
        let slice = bytes[1..<4]
        #expect(slice.startIndex == 1 && slice.endIndex == 4 && slice.first == 2 && slice.array == [2, 3, 4])
        #expect(slice[3] == 4 && slice.reversed() == [4, 3, 2])
        #expect(slice == S3Bytes([2, 3, 4] as [UInt8]) && slice != S3Bytes([2, 3] as [UInt8]) && slice != S3Bytes([2, 3, 5] as [UInt8]))
        #expect(Set([slice, S3Bytes([2, 3, 4] as [UInt8])]).count == 1)
        var joined: [UInt8] = [0]
        joined += slice
        joined.append(contentsOf: bytes.suffix(1))
        #expect(joined == [0, 2, 3, 4, 5])
        #expect(S3Bytes().isEmpty && S3Bytes() == S3Bytes([UInt8]()) && S3Bytes().array == [])
        #expect(slice.withUnsafeBytes { Array($0) } == [2, 3, 4])
        #expect(slice.withContiguousStorageIfAvailable { Array($0) } == [2, 3, 4])
        #expect(slice.regions.count == 1 && slice.regions.first == slice)
    }

    /// The buffer goes back to its pool only when the last view of it (slices included) is
    /// gone, and not before: a view never sees a later range's bytes.
    @Test func aPooledBufferReturnsWhenTheLastViewGoes() {
        let pool = PartBufferPool(bufferSize: 16, keep: 2)
        let buffer = pool.take()
        [UInt8](0..<10).withUnsafeBytes { buffer.append($0) }
        var view: S3Bytes? = S3Bytes(lease: PartBufferLease(buffer: buffer, pool: pool), offset: 2, count: 6)
        #expect(view?.array == [2, 3, 4, 5, 6, 7])
        var slice: S3Bytes? = view![3..<5]
        view = nil
        let other = pool.take()
        #expect(other !== buffer, "the buffer was reused while a slice still viewed it")
        #expect(slice?.array == [5, 6])
        slice = nil
        #expect(pool.take() === buffer, "the buffer did not go back to its pool")
        pool.give(other)
    }
}
