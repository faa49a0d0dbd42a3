import Foundation

/// Parsing of the two date forms S3 uses.
enum S3Dates {
    /// `2009-10-12T17:50:30.000Z` (listings). Fractional seconds are kept.
    static func parseISO8601(_ s: String) -> Date? {
        Array(s.utf8).withUnsafeBufferPointer { parseISO8601(bytes: $0) }
    }

    /// `2009-10-12T17:50:30.000Z` from UTF-8 bytes (a listing's `LastModified`, read in place).
    static func parseISO8601(bytes u: UnsafeBufferPointer<UInt8>) -> Date? {
        guard u.count >= 20 else { return nil }
        @inline(__always) func num(_ a: Int, _ n: Int) -> Int? {
            var v = 0
            for k in a..<(a + n) {
                let d = Int(u[k]) - 48
                guard d >= 0 && d <= 9 else { return nil }
                v = v * 10 + d
            }
            return v
        }
        guard let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2), let se = num(17, 2),
              u[4] == 45, u[7] == 45, u[10] == UInt8(ascii: "T"), u[13] == 58, u[16] == 58, u.last == UInt8(ascii: "Z")
        else { return nil }
        var frac = 0.0
        if u[19] == UInt8(ascii: ".") {
            // Up to nine digits as an integer and one division (digits beyond a nanosecond are
            // checked, not counted): no floating-point work per digit.
            var value = 0
            var scale = 1
            for k in 20..<(u.count - 1) {
                let dgt = Int(u[k]) - 48
                guard dgt >= 0 && dgt <= 9 else { return nil }
                if scale < 1_000_000_000 {
                    value = value * 10 + dgt
                    scale *= 10
                }
            }
            frac = Double(value) / Double(scale)
        }
        return epoch(y, mo, d, h, mi, se).map { Date(timeIntervalSince1970: Double($0) + frac) }
    }

    /// `Wed, 12 Oct 2009 17:50:00 GMT` (RFC 7231 IMF-fixdate, as in `Last-Modified`). The day may
    /// have one or two digits, the year has four, each time field two; anything else is nil
    /// (never a trap, whatever a server sends).
    static func parseHTTPDate(_ s: String) -> Date? {
        let parts = s.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[5] == "GMT", parts[0].utf8.count == 4, parts[0].utf8.last == UInt8(ascii: ","),
              let d = digits(parts[1], count: 1...2), let y = digits(parts[3], count: 4...4) else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let mIndex = months.firstIndex(of: String(parts[2])) else { return nil }
        let t = parts[4].split(separator: ":", omittingEmptySubsequences: false)
        guard t.count == 3, let h = digits(t[0], count: 2...2), let mi = digits(t[1], count: 2...2), let se = digits(t[2], count: 2...2)
        else { return nil }
        return epoch(y, mIndex + 1, d, h, mi, se).map { Date(timeIntervalSince1970: Double($0)) }
    }

    /// The value of `count` ASCII digits (no sign, no spaces), or nil.
    private static func digits(_ s: Substring, count: ClosedRange<Int>) -> Int? {
        guard count.contains(s.utf8.count) else { return nil }
        var v = 0
        for b in s.utf8 {
            guard b >= 48 && b <= 57 else { return nil }
            v = v * 10 + Int(b - 48)
        }
        return v
    }

    /// The times an HTTP date can state: years 1 to 9999 (`0001-01-01T00:00:00Z` up to
    /// `9999-12-31T23:59:59Z`), in seconds since 1970.
    static let httpDateRange: ClosedRange<Double> = -62_135_596_800 ... 253_402_300_799

    /// An HTTP date for a header, or `.invalidArgument` for a time outside years 1 to 9999 (or
    /// not a number), which no header can state.
    static func httpDate(_ date: Date, header: String, bucket: String, key: String?) throws(S3Error) -> String {
        guard httpDateRange.contains(date.timeIntervalSince1970) else {
            throw S3Error.invalidArgument("\(header) must be a time between the years 1 and 9999", bucket: bucket, key: key)
        }
        return httpDate(date)
    }

    /// Seconds since 1970 for a UTC civil time (days-from-civil algorithm).
    static func epoch(_ y: Int, _ m: Int, _ d: Int, _ h: Int, _ mi: Int, _ s: Int) -> Int? {
        guard (1...9999).contains(y), (1...12).contains(m), (1...31).contains(d), (0..<24).contains(h), (0..<60).contains(mi),
              (0...60).contains(s) else { return nil }
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return days * 86_400 + h * 3600 + mi * 60 + s
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 7231's IMF-fixdate), for conditional headers. A time
    /// outside ``httpDateRange`` is clamped to it (callers with user input check first, with
    /// ``httpDate(_:header:bucket:key:)``).
    static func httpDate(_ date: Date) -> String {
        let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let c = civil(date)
        let weekday = days[((c.day % 7) + 7) % 7]
        return "\(weekday), \(two(c.d)) \(months[c.m - 1]) \(four(c.y)) \(two(c.secs / 3600)):\(two(c.secs / 60 % 60)):\(two(c.secs % 60)) GMT"
    }

    /// `2027-01-31T12:00:00Z`: ISO 8601 in UTC, whole seconds (rounded down), as S3 takes
    /// Object Lock dates. Clamped to ``httpDateRange`` like ``httpDate(_:)``.
    static func iso8601Seconds(_ date: Date) -> String {
        let c = civil(date)
        return "\(four(c.y))-\(two(c.m))-\(two(c.d))T\(two(c.secs / 3600)):\(two(c.secs / 60 % 60)):\(two(c.secs % 60))Z"
    }

    private static func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    private static func four(_ v: Int) -> String { String(repeating: "0", count: max(0, 4 - String(v).count)) + String(v) }

    /// The civil date of `date` in UTC: year, month, day of month, seconds into the day, and
    /// days since the epoch.
    private static func civil(_ date: Date) -> (y: Int, m: Int, d: Int, secs: Int, day: Int) {
        let seconds = date.timeIntervalSince1970
        let t = seconds.isNaN ? 0 : Int(min(max(seconds, httpDateRange.lowerBound), httpDateRange.upperBound).rounded(.down))
        let day = t >= 0 ? t / 86_400 : (t - 86_399) / 86_400
        let secs = t - day * 86_400
        // Civil date from days since the epoch (Howard Hinnant's algorithm).
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (y, m, d, secs, day)
    }
}
