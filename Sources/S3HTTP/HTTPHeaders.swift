/// An ordered list of HTTP header fields with case-insensitive lookup.
///
/// Printing, `dump()` and `Mirror` show `Authorization`, `x-amz-security-token`,
/// `Proxy-Authorization` and SSE-C customer keys as `<redacted>`.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable {
    /// The fields in order, names as given.
    public private(set) var fields: [(name: String, value: String)]

    /// An empty list.
    public init() { fields = [] }

    /// Fields from name-value pairs, in order.
    public init(_ fields: [(String, String)]) { self.fields = fields.map { (name: $0.0, value: $0.1) } }

    public init(dictionaryLiteral elements: (String, String)...) { self.init(elements) }

    /// Appends a field (a repeated name is kept as a second field).
    public mutating func add(_ name: String, _ value: String) { fields.append((name: name, value: value)) }

    /// Replaces every field named `name` with one field, or removes them when `value` is nil.
    public mutating func set(_ name: String, _ value: String?) {
        fields.removeAll { Self.equalNames($0.name, name) }
        if let value { fields.append((name: name, value: value)) }
    }

    /// The value of the first field named `name` (case-insensitive).
    public subscript(_ name: String) -> String? {
        fields.first { Self.equalNames($0.name, name) }?.value
    }

    /// Whether a field named `name` is present.
    public func contains(_ name: String) -> Bool { self[name] != nil }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    /// Number of fields.
    public var count: Int { fields.count }

    /// Field names and values; `authorization` and security tokens are redacted.
    public var description: String {
        redactedFields.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, unlabeledChildren: redactedFields.map { "\($0.name): \($0.value)" }, displayStyle: .collection)
    }

    /// The fields with secret values replaced by `<redacted>`.
    var redactedFields: [(name: String, value: String)] {
        fields.map { field in
            let lower = field.name.lowercased()
            let secret = lower == "authorization" || lower == "x-amz-security-token" || lower == "proxy-authorization"
                || lower == "x-amz-server-side-encryption-customer-key" || lower == "x-amz-copy-source-server-side-encryption-customer-key"
            return (field.name, secret ? "<redacted>" : field.value)
        }
    }

    @inline(__always)
    static func equalNames(_ a: String, _ b: String) -> Bool {
        let x = a.utf8, y = b.utf8
        guard x.count == y.count else { return false }
        for (p, q) in zip(x, y) where p != q {
            let lp = (p >= 65 && p <= 90) ? p + 32 : p
            let lq = (q >= 65 && q <= 90) ? q + 32 : q
            if lp != lq { return false }
        }
        return true
    }
}
