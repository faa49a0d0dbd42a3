/// Appends bytes to memory whose size the caller computed beforehand (usually stack scratch
/// from `withUnsafeTemporaryAllocation`): no capacity checks or reallocation on the hot path.
struct ByteWriter {
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int
    var count = 0

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        base = buffer.baseAddress!
        capacity = buffer.count
    }

    @inline(__always) mutating func byte(_ b: UInt8) {
        assert(count < capacity)
        base[count] = b
        count += 1
    }

    @inline(__always) mutating func bytes(_ p: UnsafeBufferPointer<UInt8>) {
        guard let src = p.baseAddress, p.count > 0 else { return }
        assert(count + p.count <= capacity)
        (base + count).update(from: src, count: p.count)
        count += p.count
    }

    @inline(__always) mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { bytes($0) }
    }

    @inline(__always) mutating func string(_ s: StaticString) {
        bytes(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Lower-case hex of `raw`.
    @inline(__always) mutating func hex(_ raw: UnsafeRawBufferPointer) {
        assert(count + raw.count * 2 <= capacity)
        let digits: StaticString = "0123456789abcdef"
        let d = digits.utf8Start
        for b in raw {
            base[count] = d[Int(b >> 4)]
            base[count + 1] = d[Int(b & 0x0f)]
            count += 2
        }
    }

    /// The bytes written in `range`.
    func slice(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base + range.lowerBound, count: range.count)
    }
}
