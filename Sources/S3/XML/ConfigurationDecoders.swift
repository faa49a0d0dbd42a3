import Foundation

/// The decoders of bucket and object configurations: Object Lock, retention, legal hold, CORS,
/// ownership. Pure, like the others in ``ResponseDecoders``: the client maps a
/// ``ResponseDecoders/Malformed`` to an ``S3Error`` with code `invalidResponse` and its bucket
/// and key; the fuzz target calls each on any input.
extension ResponseDecoders {
    /// A body that parsed as XML but does not say what S3 would: why, in words.
    struct Malformed: Error, Equatable {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// GetObjectLockConfiguration.
    static func objectLockConfiguration(_ xml: XMLNode) throws(Malformed) -> S3ObjectLockConfiguration {
        var configuration = S3ObjectLockConfiguration(enabled: xml.value("ObjectLockEnabled") == "Enabled")
        guard let rule = xml.child("Rule")?.child("DefaultRetention") else { return configuration }
        guard let mode = rule.value("Mode").flatMap(S3RetentionMode.init(rawValue:)) else {
            throw Malformed("the default retention has no valid Mode")
        }
        // moto answers both, the one not set as 0.
        if let days = rule.value("Days").flatMap({ Int($0) }), days > 0 {
            configuration.defaultRetention = S3DefaultRetention(mode: mode, period: .days(days))
        } else if let years = rule.value("Years").flatMap({ Int($0) }), years > 0 {
            configuration.defaultRetention = S3DefaultRetention(mode: mode, period: .years(years))
        } else {
            throw Malformed("the default retention has neither Days nor Years")
        }
        return configuration
    }

    /// GetObjectRetention: nil when the version has no retention (an empty Mode).
    static func objectRetention(_ xml: XMLNode) throws(Malformed) -> S3ObjectRetention? {
        guard let modeText = xml.value("Mode"), !modeText.isEmpty else { return nil }
        guard let mode = S3RetentionMode(rawValue: modeText), let until = xml.value("RetainUntilDate").flatMap({ S3Dates.parseISO8601($0) }) else {
            throw Malformed("the retention has no valid Mode and RetainUntilDate")
        }
        return S3ObjectRetention(mode: mode, retainUntil: until)
    }

    /// GetObjectLegalHold: whether the hold is on.
    static func legalHold(_ xml: XMLNode) -> Bool { xml.value("Status") == "ON" }

    /// GetBucketCors.
    static func corsRules(_ xml: XMLNode) throws(Malformed) -> [S3CORSRule] {
        var rules: [S3CORSRule] = []
        for node in xml.children("CORSRule") {
            guard let rule = S3CORSRule(xml: node) else { throw Malformed("a CORS rule allows a method S3 does not have") }
            rules.append(rule)
        }
        return rules
    }

    /// GetBucketOwnershipControls: nil when it names no rule.
    static func objectOwnership(_ xml: XMLNode) throws(Malformed) -> S3ObjectOwnership? {
        guard let value = xml.child("Rule")?.value("ObjectOwnership") else { return nil }
        guard let ownership = S3ObjectOwnership(rawValue: value) else { throw Malformed("unknown ObjectOwnership \(String(reflecting: value))") }
        return ownership
    }
}

extension S3Client {
    /// Runs a configuration decoder; what it finds malformed becomes an `invalidResponse` error
    /// naming the bucket and key.
    func decode<T>(bucket: String, key: String? = nil, _ decoder: () throws(ResponseDecoders.Malformed) -> T) throws(S3Error) -> T {
        do {
            return try decoder()
        } catch {
            throw S3Error(code: .invalidResponse, message: error.message, bucket: bucket, key: key)
        }
    }
}
