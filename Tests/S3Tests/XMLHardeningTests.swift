import Foundation
@testable import S3
import Testing

/// What the XML parser must refuse (issue 10): documents nested deeper than any S3 answer,
/// bytes that are not UTF-8, and characters XML forbids; and a writer that does not recurse.
@Suite struct XMLHardeningTests {
    @Test func aDeeplyNestedMebibyteIsRefusedNotACrash() throws {
        let depth = 150_000  // 1 MiB of <a>...</a>
        var doc = [UInt8]()
        doc.reserveCapacity(depth * 7)
        for _ in 0..<depth { doc += Array("<a>".utf8) }
        for _ in 0..<depth { doc += Array("</a>".utf8) }
        let e = #expect(throws: XMLParseError.self) { _ = try XMLParser.parse(doc) }
        #expect(e?.reason.contains("deeper") == true, "\(String(describing: e))")
    }

    @Test func nestingUpToTheLimitParses() throws {
        let depth = XMLParser.maximumDepth
        let doc = String(repeating: "<a>", count: depth) + "x" + String(repeating: "</a>", count: depth)
        var node = try XMLParser.parse(doc)
        for _ in 1..<depth { node = node.children[0] }
        #expect(node.text == "x")
        #expect(throws: XMLParseError.self) {
            _ = try XMLParser.parse("<b>" + doc + "</b>")
        }
    }

    @Test func invalidUTF8IsRefused() throws {
        for bad: [UInt8] in [[0xFF], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80] /* a surrogate */, [0xC0, 0xAF] /* overlong */] {
            let doc = Array("<Error><Code>".utf8) + bad + Array("</Code></Error>".utf8)
            let e = #expect(throws: XMLParseError.self, "\(bad)") { _ = try XMLParser.parse(doc) }
            #expect(e?.reason.contains("UTF-8") == true)
        }
        // In a name too.
        #expect(throws: XMLParseError.self) { _ = try XMLParser.parse([UInt8(ascii: "<"), 0xFF, UInt8(ascii: "/"), UInt8(ascii: ">")]) }
        // Valid multi-byte text still parses.
        #expect(try XMLParser.parse("<K>é€😀</K>").text == "é€😀")
    }

    @Test func characterReferencesXMLForbidsAreRefused() throws {
        for ref in ["&#0;", "&#x0;", "&#1;", "&#xFFFE;", "&#xD800;", "&#x110000;", "&#;", "&#x;"] {
            #expect(throws: XMLParseError.self, "\(ref)") { _ = try XMLParser.parse("<K>a\(ref)b</K>") }
        }
        #expect(try XMLParser.parse("<K>&#9;&#x41;&#10;&#x1F600;</K>").text == "\tA\n😀")
        // A raw control character is refused as well.
        #expect(throws: XMLParseError.self) { _ = try XMLParser.parse([UInt8]("<K>a".utf8) + [1] + [UInt8]("</K>".utf8)) }
    }

    @Test func theWriterHandlesDeepTreesWithoutRecursion() throws {
        var node = XMLNode(name: "leaf", text: "x")
        for _ in 0..<2_000 { node = XMLNode(name: "n", children: [node]) }
        var writer = XMLWriter()
        writer.node(node)
        let text = String(decoding: writer.data, as: UTF8.self)
        #expect(text.hasSuffix(String(repeating: "</n>", count: 2_000)))
        #expect(text.contains("<leaf>x</leaf>"))
    }
}
