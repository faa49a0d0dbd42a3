import Foundation

/// Preconditions of a request (`If-Match`, `If-None-Match`, `If-Modified-Since`,
/// `If-Unmodified-Since`): the store carries it out only when they hold.
///
/// ```swift
/// // Create-only: of many writers of the same key, exactly one succeeds; the others get
/// // `.preconditionFailed`.
/// try await client.putObject(bucket: "jobs", key: "lock", bytes: me, conditions: .createOnly)
/// // Optimistic concurrency: replace or delete only the version that was read.
/// try await client.putObject(bucket: "b", key: "k", bytes: next, conditions: .ifMatch(read.eTag!))
/// // A cache's revalidation: `.notModified` instead of the body when it did not change.
/// if case .notModified = try await client.getObject(bucket: "b", key: "k", range: nil, conditions: .ifNoneMatch(cached)) { ... }
/// ```
///
/// What S3 allows, checked before anything is sent (`.invalidArgument`): PUT takes `If-Match`
/// and `If-None-Match: *` only; DELETE takes `If-Match` only; GET and HEAD take all four.
public struct S3Conditions: Sendable, Hashable {
    /// Only if the object's ETag is this one (quotes optional).
    public var ifMatch: String?
    /// Only if the object's ETag is not this one; `*`: only if there is no object.
    public var ifNoneMatch: String?
    /// Only if the object changed after this time (GET, HEAD).
    public var ifModifiedSince: Date?
    /// Only if the object did not change after this time (GET, HEAD).
    public var ifUnmodifiedSince: Date?

    /// Conditions; `nil` ones are not sent.
    public init(ifMatch: String? = nil, ifNoneMatch: String? = nil, ifModifiedSince: Date? = nil, ifUnmodifiedSince: Date? = nil) {
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
        self.ifModifiedSince = ifModifiedSince
        self.ifUnmodifiedSince = ifUnmodifiedSince
    }

    /// Write only if no object has the key (`If-None-Match: *`).
    public static let createOnly = S3Conditions(ifNoneMatch: "*")

    /// Only if the object's ETag is `eTag`.
    public static func ifMatch(_ eTag: String) -> S3Conditions { S3Conditions(ifMatch: eTag) }

    /// Only if the object's ETag is not `eTag` (GET and HEAD: `.notModified` otherwise).
    public static func ifNoneMatch(_ eTag: String) -> S3Conditions { S3Conditions(ifNoneMatch: eTag) }

    /// The headers for a `method` request, after checking S3 allows them there.
    func headers(for method: String, bucket: String, key: String) throws(S3Error) -> [(String, String)] {
        func refuse(_ what: String) -> S3Error {
            S3Error.invalidArgument("\(what) cannot be sent with \(method) (S3 does not take it there)", bucket: bucket, key: key)
        }
        switch method {
        case "PUT":
            if let n = ifNoneMatch, n != "*" { throw refuse("If-None-Match other than \"*\"") }
            if ifModifiedSince != nil { throw refuse("If-Modified-Since") }
            if ifUnmodifiedSince != nil { throw refuse("If-Unmodified-Since") }
        case "DELETE":
            if ifNoneMatch != nil { throw refuse("If-None-Match") }
            if ifModifiedSince != nil { throw refuse("If-Modified-Since") }
            if ifUnmodifiedSince != nil { throw refuse("If-Unmodified-Since") }
        default:
            break
        }
        func tag(_ value: String, _ name: String) throws(S3Error) -> String {
            let bare = S3Client.unquote(value.trimmingCharacters(in: .whitespaces))
            guard !bare.isEmpty, bare.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") }) else {
                throw S3Error.invalidArgument("\(name) \(String(reflecting: value)) is not an ETag", bucket: bucket, key: key)
            }
            return bare == "*" ? "*" : "\"" + bare + "\""
        }
        var out: [(String, String)] = []
        if let ifMatch { out.append(("If-Match", try tag(ifMatch, "If-Match"))) }
        if let ifNoneMatch { out.append(("If-None-Match", try tag(ifNoneMatch, "If-None-Match"))) }
        if let ifModifiedSince {
            out.append(("If-Modified-Since", try S3Dates.httpDate(ifModifiedSince, header: "If-Modified-Since", bucket: bucket, key: key)))
        }
        if let ifUnmodifiedSince {
            out.append(("If-Unmodified-Since", try S3Dates.httpDate(ifUnmodifiedSince, header: "If-Unmodified-Since", bucket: bucket, key: key)))
        }
        return out
    }
}

/// The answer to a conditional GET or HEAD: the value, or word that it did not change.
public enum S3ConditionalResult<Value: Sendable>: Sendable {
    /// The conditions held: the object (or its attributes).
    case value(Value)
    /// `If-None-Match` matched or `If-Modified-Since` was not passed (HTTP 304): the copy the
    /// caller has is current. The ETag the store sent with the 304, if any.
    case notModified(eTag: String?)

    /// The value, or nil when not modified.
    public var value: Value? {
        if case .value(let v) = self { return v }
        return nil
    }
}

extension S3Error.Code {
    /// HTTP 304: a conditional GET or HEAD found the object unchanged (returned as
    /// ``S3ConditionalResult/notModified(eTag:)``, never thrown by those calls).
    public static let notModified: S3Error.Code = "NotModified"
    /// HTTP 409 on a conditional write racing another write of the same key; retried.
    public static let conditionalRequestConflict: S3Error.Code = "ConditionalRequestConflict"
}
