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
        func num(_ a: Int, _ n: Int) -> Int? {
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
            var scale = 0.1
            for k in 20..<(u.count - 1) {
                let dgt = Int(u[k]) - 48
                guard dgt >= 0 && dgt <= 9 else { return nil }
                frac += Double(dgt) * scale
                scale /= 10
            }
        }
        return epoch(y, mo, d, h, mi, se).map { Date(timeIntervalSince1970: Double($0) + frac) }
    }

    /// `Wed, 12 Oct 2009 17:50:00 GMT` (RFC 7231 IMF-fixdate, as in `Last-Modified`).
    static func parseHTTPDate(_ s: String) -> Date? {
        let parts = s.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let d = Int(parts[1]), let y = Int(parts[3]) else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let mIndex = months.firstIndex(of: String(parts[2])) else { return nil }
        let t = parts[4].split(separator: ":").compactMap { Int($0) }
        guard t.count == 3 else { return nil }
        return epoch(y, mIndex + 1, d, t[0], t[1], t[2]).map { Date(timeIntervalSince1970: Double($0)) }
    }

    /// Seconds since 1970 for a UTC civil time (days-from-civil algorithm).
    static func epoch(_ y: Int, _ m: Int, _ d: Int, _ h: Int, _ mi: Int, _ s: Int) -> Int? {
        guard (1...12).contains(m), (1...31).contains(d), h < 24, mi < 60, s <= 60 else { return nil }
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return days * 86_400 + h * 3600 + mi * 60 + s
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 7231's IMF-fixdate), for conditional headers.
    static func httpDate(_ date: Date) -> String {
        let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let t = Int(date.timeIntervalSince1970.rounded(.down))
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
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let weekday = days[((day % 7) + 7) % 7]
        return "\(weekday), \(two(d)) \(months[m - 1]) \(y) \(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60)) GMT"
    }
}
