import Foundation

/// One object of a listing.
public struct S3ObjectSummary: Sendable, Hashable {
    /// The key.
    public var key: String
    /// Size in bytes.
    public var size: Int64
    /// The ETag, quotes removed.
    ///
    /// Kept compactly (an MD5 in lowercase hex, with or without a multipart `-N`, takes no
    /// allocation; a listing of a million keys holds 64 MB less), and made a `String` when read.
    public var eTag: String? {
        get { storedETag.string }
        set { storedETag = CompactETag(newValue) }
    }
    /// When the object was last written.
    public var lastModified: Date?
    /// The storage class (`STANDARD`, ...).
    public var storageClass: String?

    var storedETag: CompactETag

    /// A value with these fields (what the client decodes; tests and fakes make their own).
    public init(key: String, size: Int64, eTag: String? = nil, lastModified: Date? = nil, storageClass: String? = nil) {
        self.key = key
        self.size = size
        self.storedETag = CompactETag(eTag)
        self.lastModified = lastModified
        self.storageClass = storageClass
    }
}

/// An ETag without a heap allocation in the usual case: 32 lowercase hex digits (an MD5),
/// optionally followed by `-N` (a multipart upload's, N from 1 to 10,000 without leading
/// zeros). Anything else is kept as its text. Each value has exactly one representation, so
/// the synthesized equality is the text's.
struct CompactETag: Sendable, Hashable {
    private enum Storage: Sendable, Hashable {
        case none
        /// The digest's 16 bytes, big-endian halves, and the part count (0: no suffix).
        case md5(UInt64, UInt64, parts: UInt16)
        case text(String)
    }

    private let storage: Storage

    init(_ text: String?) {
        guard var text else {
            storage = .none
            return
        }
        storage = text.withUTF8 { Self.compact($0) } ?? .text(text)
    }

    /// From the bytes of an unquoted ETag.
    init(bytes: UnsafeBufferPointer<UInt8>) {
        storage = Self.compact(bytes) ?? .text(bytes.isEmpty ? "" : String(decoding: bytes, as: UTF8.self))
    }

    /// Each byte's value as a lowercase hex digit, 16 for any other byte.
    private static let hexValues: [UInt8] = (0...255).map { (b: Int) -> UInt8 in
        switch b {
        case 48...57: return UInt8(b - 48)
        case 97...102: return UInt8(b - 87)
        default: return 16
        }
    }

    private static func compact(_ u: UnsafeBufferPointer<UInt8>) -> Storage? {
        guard u.count == 32 || (u.count >= 34 && u.count <= 38 && u[32] == UInt8(ascii: "-")) else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        var invalid: UInt8 = 0
        Self.hexValues.withUnsafeBufferPointer { table in
            for k in 0..<16 {
                let h = table[Int(u[k])]
                let l = table[Int(u[k + 16])]
                invalid |= h | l
                high = high << 4 | UInt64(h & 0xF)
                low = low << 4 | UInt64(l & 0xF)
            }
        }
        guard invalid & 16 == 0 else { return nil }
        var parts = 0
        if u.count > 32 {
            guard u[33] != UInt8(ascii: "0") else { return nil }
            for k in 33..<u.count {
                let d = Int(u[k]) - 48
                guard d >= 0 && d <= 9 else { return nil }
                parts = parts * 10 + d
            }
            guard parts <= 10_000 else { return nil }
        }
        return .md5(high, low, parts: UInt16(parts))
    }

    /// The ETag as text.
    var string: String? {
        switch storage {
        case .none:
            return nil
        case .text(let text):
            return text
        case .md5(let high, let low, let parts):
            let digits: StaticString = "0123456789abcdef"
            let suffix = parts == 0 ? "" : "-\(parts)"
            return String(unsafeUninitializedCapacity: 32 + suffix.utf8.count) { out in
                for k in 0..<16 {
                    out[15 - k] = digits.utf8Start[Int((high >> (4 * UInt64(k))) & 0xF)]
                    out[31 - k] = digits.utf8Start[Int((low >> (4 * UInt64(k))) & 0xF)]
                }
                var i = 32
                for b in suffix.utf8 {
                    out[i] = b
                    i += 1
                }
                return i
            }
        }
    }
}
