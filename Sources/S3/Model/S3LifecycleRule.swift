import Foundation

/// One rule of a bucket's lifecycle configuration, kept as parsed XML so that rules this
/// library does not manage are written back exactly as they were.
public struct S3LifecycleRule: Sendable {
    /// The rule's XML (`<Rule>...</Rule>`), parsed.
    var xml: XMLNode
    /// The rule's `ID`, if it has one.
    public var id: String? { xml.value("ID") }
    /// `Expiration/Days`, if the rule expires objects after a number of days.
    public var expirationDays: Int? { xml.child("Expiration")?.value("Days").flatMap { Int($0) } }
    /// The rule as XML text (`<Rule>...</Rule>`), as it is sent.
    public var xmlString: String {
        var writer = XMLWriter()
        writer.node(xml)
        return String(decoding: writer.data, as: UTF8.self)
    }

    init(xml: XMLNode) { self.xml = xml }

    /// A rule from its XML text (`<Rule>...</Rule>`, as in S3's lifecycle documentation), for
    /// rules beyond ``expiration(id:days:)``. Throws ``S3Error`` (`.invalidArgument`) when it is
    /// not well-formed XML with a `Rule` root.
    public init(xmlString: String) throws {
        let node: XMLNode
        do { node = try XMLParser.parse(xmlString) } catch {
            throw S3Error.invalidArgument("the lifecycle rule is not well-formed XML: \(error)")
        }
        guard node.name == "Rule" else { throw S3Error.invalidArgument("a lifecycle rule's root element is <Rule>, not <\(node.name)>") }
        self.xml = node
    }

    /// A rule that expires every object of the bucket `days` days after it was written.
    public static func expiration(id: String, days: Int) -> S3LifecycleRule {
        S3LifecycleRule(xml: XMLNode(name: "Rule", children: [
            XMLNode(name: "ID", text: id),
            XMLNode(name: "Filter", children: [XMLNode(name: "Prefix")]),
            XMLNode(name: "Status", text: "Enabled"),
            XMLNode(name: "Expiration", children: [XMLNode(name: "Days", text: String(days))]),
        ]))
    }
}
