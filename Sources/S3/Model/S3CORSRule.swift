import Foundation

/// One rule of a bucket's CORS configuration: which web origins may send which requests to
/// the bucket from a browser, and what the browser may read of the answer.
///
/// Codable in the JSON shape of `aws s3api put-bucket-cors` (`ID`, `AllowedMethods`,
/// `AllowedOrigins`, `AllowedHeaders`, `ExposeHeaders`, `MaxAgeSeconds`), so one file serves
/// both tools.
///
/// ```swift
/// let rule = S3CORSRule(allowedMethods: [.get, .put, .post], allowedOrigins: ["https://app.example.com"],
///                       allowedHeaders: ["*"], exposeHeaders: ["ETag"], maxAgeSeconds: 3000)
/// try await client.setCORSRules(bucket: "uploads", [rule])
/// ```
public struct S3CORSRule: Sendable, Hashable, Codable {
    /// A method a CORS rule can allow: S3 takes these five only.
    public enum Method: String, Sendable, Hashable, Codable, CaseIterable {
        /// `GET`: reading objects (and listing the bucket).
        case get = "GET"
        /// `PUT`: uploading objects and parts.
        case put = "PUT"
        /// `POST`: browser-form uploads, and starting or completing multipart uploads.
        case post = "POST"
        /// `DELETE`: deleting objects.
        case delete = "DELETE"
        /// `HEAD`: reading an object's headers.
        case head = "HEAD"
    }

    /// The rule's name (at most 255 characters), optional.
    public var id: String?
    /// The methods allowed; at least one.
    public var allowedMethods: [Method]
    /// The origins allowed (`https://app.example.com`; one `*` at most in each, `*` alone for
    /// any origin); at least one.
    public var allowedOrigins: [String]
    /// The request headers a preflight may ask for (`*`: any; one `*` at most in each).
    public var allowedHeaders: [String]
    /// The response headers the browser may read (e.g. `ETag`, needed to finish a multipart
    /// upload from a browser).
    public var exposeHeaders: [String]
    /// How long a browser may cache the preflight answer, in seconds.
    public var maxAgeSeconds: Int?

    /// A rule; checked when it is sent (``S3Client/setCORSRules(bucket:_:)``).
    public init(id: String? = nil, allowedMethods: [Method], allowedOrigins: [String], allowedHeaders: [String] = [],
                exposeHeaders: [String] = [], maxAgeSeconds: Int? = nil) {
        self.id = id
        self.allowedMethods = allowedMethods
        self.allowedOrigins = allowedOrigins
        self.allowedHeaders = allowedHeaders
        self.exposeHeaders = exposeHeaders
        self.maxAgeSeconds = maxAgeSeconds
    }

    enum CodingKeys: String, CodingKey {
        case id = "ID", allowedMethods = "AllowedMethods", allowedOrigins = "AllowedOrigins", allowedHeaders = "AllowedHeaders"
        case exposeHeaders = "ExposeHeaders", maxAgeSeconds = "MaxAgeSeconds"
    }

    /// Decodes the JSON shape of the AWS CLI: the lists of headers may be absent.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id)
        allowedMethods = try c.decode([Method].self, forKey: .allowedMethods)
        allowedOrigins = try c.decode([String].self, forKey: .allowedOrigins)
        allowedHeaders = try c.decodeIfPresent([String].self, forKey: .allowedHeaders) ?? []
        exposeHeaders = try c.decodeIfPresent([String].self, forKey: .exposeHeaders) ?? []
        maxAgeSeconds = try c.decodeIfPresent(Int.self, forKey: .maxAgeSeconds)
    }

    /// Encodes the JSON shape of the AWS CLI, empty lists and absent values left out.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(id, forKey: .id)
        try c.encode(allowedMethods, forKey: .allowedMethods)
        try c.encode(allowedOrigins, forKey: .allowedOrigins)
        if !allowedHeaders.isEmpty { try c.encode(allowedHeaders, forKey: .allowedHeaders) }
        if !exposeHeaders.isEmpty { try c.encode(exposeHeaders, forKey: .exposeHeaders) }
        try c.encodeIfPresent(maxAgeSeconds, forKey: .maxAgeSeconds)
    }

    /// `<CORSRule>...</CORSRule>`.
    var xml: XMLNode {
        var children: [XMLNode] = []
        if let id { children.append(XMLNode(name: "ID", text: id)) }
        children += allowedHeaders.map { XMLNode(name: "AllowedHeader", text: $0) }
        children += allowedMethods.map { XMLNode(name: "AllowedMethod", text: $0.rawValue) }
        children += allowedOrigins.map { XMLNode(name: "AllowedOrigin", text: $0) }
        children += exposeHeaders.map { XMLNode(name: "ExposeHeader", text: $0) }
        if let maxAgeSeconds { children.append(XMLNode(name: "MaxAgeSeconds", text: String(maxAgeSeconds))) }
        return XMLNode(name: "CORSRule", children: children)
    }

    /// A rule from its `<CORSRule>` element; nil when it names a method S3 does not have.
    init?(xml: XMLNode) {
        var methods: [Method] = []
        for m in xml.children("AllowedMethod") {
            guard let method = Method(rawValue: m.text.uppercased()) else { return nil }
            methods.append(method)
        }
        self.init(id: xml.value("ID"), allowedMethods: methods, allowedOrigins: xml.children("AllowedOrigin").map(\.text),
                  allowedHeaders: xml.children("AllowedHeader").map(\.text), exposeHeaders: xml.children("ExposeHeader").map(\.text),
                  maxAgeSeconds: xml.value("MaxAgeSeconds").flatMap { Int($0) })
    }
}

extension Validation {
    /// S3's CORS rules: 1 to 100 rules; each with a method and an origin; at most one `*` in an
    /// origin or an allowed header; IDs of at most 255 characters; a maximum age not negative;
    /// values on one line.
    static func corsRules(_ rules: [S3CORSRule], bucket: String) throws(S3Error) {
        guard rules.count <= 100 else {
            throw S3Error.invalidArgument("\(rules.count) CORS rules; S3 allows at most 100", bucket: bucket)
        }
        for (index, rule) in rules.enumerated() {
            let name = rule.id.map { "CORS rule \(String(reflecting: $0))" } ?? "CORS rule \(index + 1)"
            guard !rule.allowedMethods.isEmpty else { throw S3Error.invalidArgument("\(name) allows no method", bucket: bucket) }
            guard !rule.allowedOrigins.isEmpty else { throw S3Error.invalidArgument("\(name) allows no origin", bucket: bucket) }
            if let id = rule.id, id.count > 255 { throw S3Error.invalidArgument("\(name): an ID is at most 255 characters", bucket: bucket) }
            if let age = rule.maxAgeSeconds, age < 0 { throw S3Error.invalidArgument("\(name): MaxAgeSeconds is negative", bucket: bucket) }
            for (field, values) in [("origin", rule.allowedOrigins), ("allowed header", rule.allowedHeaders), ("exposed header", rule.exposeHeaders)] {
                for value in values {
                    guard !value.isEmpty, !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                        throw S3Error.invalidArgument("\(name): an \(field) must be a non-empty value on one line", bucket: bucket)
                    }
                    guard field == "exposed header" || value.filter({ $0 == "*" }).count <= 1 else {
                        throw S3Error.invalidArgument("\(name): the \(field) \(String(reflecting: value)) holds more than one *", bucket: bucket)
                    }
                }
            }
        }
    }
}
