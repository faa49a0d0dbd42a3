import Foundation
@_spi(Fuzzing) @testable import S3
import Testing

/// The parser's shortcuts (issue 15): names read eight bytes at a time, a leaf element
/// (`<Key>text</Key>`) told in one step, a closing tag compared with the open name. Each input
/// here sits on the edge of a shortcut; the answer must be what the general path gives.
@Suite struct XMLFastPathTests {
    /// `name: text` of every element, depth first, as the tree has them.
    private func flatten(_ doc: String) throws -> [String] {
        var out: [String] = []
        var stack = [try XMLParser.parse(doc)]
        while let n = stack.popLast() {
            out.append("\(n.name): \(n.text)")
            stack += n.children.reversed()
        }
        return out
    }

    @Test func leavesWithAndWithoutShortcuts() throws {
        #expect(try flatten("<R><Key>a</Key><E></E><S/></R>") == ["R: ", "Key: a", "E: ", "S: "])
        // A reference, a comment, CDATA or a space before `>` in the closing tag: the general path.
        #expect(try flatten("<R><K>a&amp;b</K></R>") == ["R: ", "K: a&b"])
        #expect(try flatten("<R><K>a<!-- c -->b</K></R>") == ["R: ", "K: ab"])
        #expect(try flatten("<R><K>a<![CDATA[<x>]]>b</K></R>") == ["R: ", "K: a<x>b"])
        #expect(try flatten("<R><K>a</K  ></R>") == ["R: ", "K: a"])
        // A longer closing name that starts with the open one is a mismatch, not a match.
        let e = #expect(throws: XMLParseError.self) { _ = try XMLParser.parse("<R><K>a</KK></R>") }
        #expect(e?.reason.contains("mismatched closing tag </KK>") == true, "\(String(describing: e))")
        #expect(throws: XMLParseError.self) { _ = try XMLParser.parse("<R><K>a</K") }
        #expect(throws: XMLParseError.self) { _ = try XMLParser.parse("<R><K>a</K/></R>") }
        // Text after a leaf inside its parent is the parent's.
        #expect(try flatten("<R>x<K>a</K>y</R>") == ["R: xy", "K: a"])
    }

    @Test func namesOfEveryLengthAndByte() throws {
        // Names longer than a word, with digits, `-`, `.`, `:` and `_` on either side of each
        // eight-byte boundary, and names ended by a space, `/`, `>` at every position.
        for length in 1...20 {
            for filler in ["a", "9", "-", ".", ":", "_", "é"] {
                let name = "N" + String(repeating: filler, count: length - 1)
                #expect(try flatten("<\(name)>v</\(name)>") == ["\(name): v"])
                #expect(try flatten("<R><\(name) a=\"1\">v</\(name)></R>") == ["R: ", "\(name): v"])
                #expect(try flatten("<R><\(name)/></R>") == ["R: ", "\(name): "])
                #expect(try flatten("<R><\(name)\n/><\(name)></\(name)\t></R>") == ["R: ", "\(name): ", "\(name): "])
            }
        }
    }

    @Test func aListingPageDecodesTheSameByBothDecoders() throws {
        var s = "<ListBucketResult><KeyCount>3</KeyCount><IsTruncated>false</IsTruncated>"
        for (i, key) in ["plain.txt", "a&amp;b", "spaces and\ttabs"].enumerated() {
            s += "<Contents><Key>\(key)</Key><LastModified>2024-05-01T12:34:56.25Z</LastModified>"
            s += "<ETag>&quot;\(String(repeating: "\(i)", count: 32))&quot;</ETag><Size>\(i)</Size><StorageClass>STANDARD</StorageClass></Contents>"
        }
        s += "<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>"
        let bytes = Array(s.utf8)
        let pulled = try S3ResponseFuzzing.decodeListPage(bytes)
        #expect(pulled == (try S3ResponseFuzzing.decodeListPageViaTree(bytes)))
        #expect(pulled.objects.map(\.key) == ["plain.txt", "a&b", "spaces and\ttabs"])
        #expect(pulled.objects.map(\.eTag) == ["00000000000000000000000000000000", "11111111111111111111111111111111",
                                               "22222222222222222222222222222222"])
        #expect(pulled.objects.map(\.size) == [0, 1, 2])
        #expect(pulled.objects[0].lastModified == Date(timeIntervalSince1970: 1_714_566_896.25))
        #expect(pulled.commonPrefixes == ["p/"])
    }

    @Test func fractionalSecondsOfAnyLength() {
        #expect(S3Dates.parseISO8601("2024-05-01T12:34:56.1Z") == Date(timeIntervalSince1970: 1_714_566_896.1))
        #expect(S3Dates.parseISO8601("2024-05-01T12:34:56.123456Z") == Date(timeIntervalSince1970: 1_714_566_896.123456))
        // Beyond a nanosecond the digits are checked, not counted.
        #expect(S3Dates.parseISO8601("2024-05-01T12:34:56.1234567891234567891234Z") == Date(timeIntervalSince1970: 1_714_566_896.123456789))
        #expect(S3Dates.parseISO8601("2024-05-01T12:34:56.12x4Z") == nil)
    }
}

/// A listing's ETags are kept without an allocation when they are MD5s (issue 15); every ETag
/// reads back as it was written, compact or not, and equal texts are equal values.
@Suite struct CompactETagTests {
    @Test func everyETagReadsBackAsWritten() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427e"
        let texts: [String?] = [nil, "", md5, md5 + "-1", md5 + "-12", md5 + "-10000", md5 + "-10001", md5 + "-0", md5 + "-012",
                                md5 + "-", md5 + "-1a", md5.uppercased(), String(md5.dropLast()), md5 + "0", "W/\"x\"", "é" + md5.dropFirst(2),
                                "00000000000000000000000000000000", "ffffffffffffffffffffffffffffffff", "0123456789abcdef0123456789abcdeg"]
        for text in texts {
            let summary = S3ObjectSummary(key: "k", size: 1, eTag: text)
            #expect(summary.eTag == text, "\(String(describing: text))")
            var changed = summary
            changed.eTag = text
            #expect(changed == summary)
            #expect(changed.hashValue == summary.hashValue)
        }
        // Different texts are different values, compact or not.
        #expect(S3ObjectSummary(key: "k", size: 1, eTag: md5) != S3ObjectSummary(key: "k", size: 1, eTag: md5 + "-1"))
        #expect(S3ObjectSummary(key: "k", size: 1, eTag: md5) != S3ObjectSummary(key: "k", size: 1, eTag: md5.uppercased()))
        #expect(S3ObjectSummary(key: "k", size: 1, eTag: "") != S3ObjectSummary(key: "k", size: 1, eTag: nil))
    }
}
