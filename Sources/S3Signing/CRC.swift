import CCryptoShim

/// A running CRC of one of the three kinds S3 checksums use, with the length it covers, so
/// that the CRCs of adjacent blocks combine into the CRC of the whole without reading the
/// bytes again (``followed(by:)``).
///
/// CRC-32C uses the CPU's crc32 instruction, CRC-32 and CRC-64/NVME carry-less
/// multiplication (PCLMULQDQ), where the CPU has them; slicing-by-8 tables otherwise.
public struct CRC: Sendable, Hashable {
    /// Which CRC.
    public enum Kind: Int32, Sendable, Hashable, CaseIterable {
        /// CRC-32 (ISO-HDLC, zlib's): `x-amz-checksum-crc32`.
        case crc32 = 0
        /// CRC-32C (Castagnoli): `x-amz-checksum-crc32c`.
        case crc32c = 1
        /// CRC-64/NVME: `x-amz-checksum-crc64nvme`.
        case crc64nvme = 2

        /// The CRC's width in bytes (4 or 8).
        public var byteCount: Int { self == .crc64nvme ? 8 : 4 }
    }

    /// The kind of CRC.
    public let kind: Kind
    /// The CRC of the bytes so far (0 for none).
    public private(set) var value: UInt64
    /// How many bytes it covers.
    public private(set) var length: Int64

    /// The CRC of no bytes.
    public init(_ kind: Kind) {
        self.kind = kind
        self.value = 0
        self.length = 0
    }

    /// A CRC already computed over `length` bytes.
    public init(_ kind: Kind, value: UInt64, length: Int64) {
        self.kind = kind
        self.value = value
        self.length = length
    }

    /// The CRC of `bytes`.
    public init(_ kind: Kind, of bytes: UnsafeRawBufferPointer) {
        self.init(kind)
        update(bytes)
    }

    /// The CRC of `bytes`.
    public init(_ kind: Kind, of bytes: [UInt8]) {
        self.init(kind)
        bytes.withUnsafeBytes { update($0) }
    }

    /// Continues over `bytes`.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        switch kind {
        case .crc32: value = UInt64(s3_crc32(UInt32(value), bytes.baseAddress, bytes.count))
        case .crc32c: value = UInt64(s3_crc32c(UInt32(value), bytes.baseAddress, bytes.count))
        case .crc64nvme: value = s3_crc64nvme(value, bytes.baseAddress, bytes.count)
        }
        length += Int64(bytes.count)
    }

    /// The CRC of these bytes followed by `next`'s (same kind), from the two CRCs alone.
    public func followed(by next: CRC) -> CRC {
        precondition(next.kind == kind, "cannot combine a \(kind) with a \(next.kind)")
        if next.length == 0 { return self }
        if length == 0 { return next }
        return CRC(kind, value: s3_crc_combine(kind.rawValue, value, next.value, UInt64(next.length)), length: length + next.length)
    }

    /// The value as S3 sends it before base64: big-endian, 4 or 8 bytes.
    public var bigEndianBytes: [UInt8] {
        let n = kind.byteCount
        return (0..<n).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(n - 1 - $0))) }
    }

    /// The table-driven computation (no CPU instructions), for tests that compare the paths.
    public static func portable(_ kind: Kind, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        switch kind {
        case .crc32: UInt64(s3_crc32_portable(0, bytes.baseAddress, bytes.count))
        case .crc32c: UInt64(s3_crc32c_portable(0, bytes.baseAddress, bytes.count))
        case .crc64nvme: s3_crc64nvme_portable(0, bytes.baseAddress, bytes.count)
        }
    }

    /// Whether CRC-32 and CRC-64/NVME use carry-less multiplication on this CPU.
    public static var isCarryLessMultiplyAccelerated: Bool { s3_crc_clmul_available() == 1 }
}
