#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The two forms of a signing time: `20130524T000000Z` and `20130524`.
public struct SigV4Timestamp: Sendable, Hashable {
    /// ISO 8601 basic form, as sent in `x-amz-date`.
    public let amzDate: String
    /// The date part used in the credential scope.
    public let dateStamp: String

    /// The timestamp for `secondsSince1970` (UTC).
    public init(secondsSince1970: Int) {
        var t = time_t(secondsSince1970)
        var tm = tm()
        gmtime_r(&t, &tm)
        var bytes = [UInt8]()
        bytes.reserveCapacity(16)
        func two(_ v: Int32) { bytes.append(UInt8(48 + v / 10)); bytes.append(UInt8(48 + v % 10)) }
        let year = Int(tm.tm_year) + 1900
        bytes.append(UInt8(48 + year / 1000 % 10)); bytes.append(UInt8(48 + year / 100 % 10))
        bytes.append(UInt8(48 + year / 10 % 10)); bytes.append(UInt8(48 + year % 10))
        two(tm.tm_mon + 1); two(tm.tm_mday)
        dateStamp = String(decoding: bytes, as: UTF8.self)
        bytes.append(UInt8(ascii: "T"))
        two(tm.tm_hour); two(tm.tm_min); two(tm.tm_sec)
        bytes.append(UInt8(ascii: "Z"))
        amzDate = String(decoding: bytes, as: UTF8.self)
    }

    /// Parses `20130524T000000Z`; nil when malformed.
    public init?(amzDate: String) {
        let u = Array(amzDate.utf8)
        guard u.count == 16, u[8] == UInt8(ascii: "T"), u[15] == UInt8(ascii: "Z"),
              u[0..<8].allSatisfy({ $0 >= 48 && $0 <= 57 }), u[9..<15].allSatisfy({ $0 >= 48 && $0 <= 57 })
        else { return nil }
        self.amzDate = amzDate
        self.dateStamp = String(decoding: u[0..<8], as: UTF8.self)
    }
}
