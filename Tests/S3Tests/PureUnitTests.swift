import Foundation
import S3HTTP
import Testing
@testable import S3

@Suite struct XMLParserTests {
    @Test func parsesElementsTextAndEntities() throws {
        let doc = """
        <?xml version="1.0" encoding="UTF-8"?>
        <!-- a comment -->
        <Root xmlns="http://s3.amazonaws.com/doc/2006-03-01/" a='x>y'>
          <Key>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#65;&#x42; &#x65E5;</Key>
          <Empty/>
          <Data><![CDATA[<not a tag> & raw]]></Data>
          <List><Item>1</Item><Item>2</Item></List>
        </Root>
        """
        let root = try XMLParser.parse(doc)
        #expect(root.name == "Root")
        #expect(root.value("Key") == "a & b <c> \"d\" 'e' AB 日")
        #expect(root.child("Empty")?.text == "")
        #expect(root.value("Data") == "<not a tag> & raw")
        #expect(root.child("List")?.children("Item").map(\.text) == ["1", "2"])
        #expect(root.child("Missing") == nil)
    }

    @Test(arguments: ["", "<a>", "<a></b>", "<a>&bogus;</a>", "<a/><b/>", "text<a/>", "<a x=\"1></a>", "<a><![CDATA[x</a>"])
    func rejectsMalformedDocuments(_ doc: String) {
        #expect(throws: XMLParseError.self) { try XMLParser.parse(doc) }
    }

    @Test func writerEscapes() {
        var w = XMLWriter()
        w.open("A", s3Namespace: true)
        w.element("B", "x<&>\"'y")
        w.close("A")
        let text = String(decoding: w.data, as: UTF8.self)
        #expect(text.hasSuffix("<A xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><B>x&lt;&amp;&gt;&quot;&apos;y</B></A>"))
        #expect((try? XMLParser.parse(w.data).value("B")) == "x<&>\"'y")
    }

    @Test func decodesAListObjectsV2Page() throws {
        let xml = try XMLParser.parse("""
        <ListBucketResult><Name>b</Name><Prefix></Prefix><KeyCount>3</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>
        <Contents><Key>a &amp; b</Key><LastModified>2009-10-12T17:50:30.250Z</LastModified><ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size><StorageClass>STANDARD</StorageClass></Contents>
        <Contents><Key>c</Key><Size>0</Size></Contents>
        <CommonPrefixes><Prefix>photos/</Prefix></CommonPrefixes>
        <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken></ListBucketResult>
        """)
        let page = ResponseDecoders.listPage(xml)
        #expect(page.objects.map(\.key) == ["a & b", "c"])
        #expect(page.objects[0].size == 434_234)
        #expect(page.objects[0].eTag == "fba9dede5f27731c9771645a39863328")
        #expect(page.objects[0].lastModified == Date(timeIntervalSince1970: 1_255_369_830.25))
        #expect(page.commonPrefixes == ["photos/"])
        #expect(page.isTruncated)
        #expect(page.nextContinuationToken == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        #expect(page.keyCount == 3)
    }
}

@Suite struct ErrorMappingTests {
    @Test func mapsAnErrorDocument() {
        let body = Array("""
        <?xml version="1.0" encoding="UTF-8"?>
        <Error><Code>NoSuchKey</Code><Message>The resource you requested does not exist</Message><Key>photos/x.jpg</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>
        """.utf8)
        let e = S3Client.mapError(status: 404, headers: HTTPHeaders([("x-amz-id-2", "host-id")]), body: body, method: "GET", bucket: "b", key: "photos/x.jpg")
        #expect(e.code == .noSuchKey)
        #expect(e.httpStatus == 404)
        #expect(e.requestID == "4442587FB7D0A2F9")
        #expect(e.hostID == "host-id")
        #expect(e.bucket == "b")
        #expect(e.key == "photos/x.jpg")
        #expect(e.description.contains("NoSuchKey"))
        #expect(e.description.contains("4442587FB7D0A2F9"))
    }

    @Test func mapsBodilessResponses() {
        let h = HTTPHeaders([("x-amz-request-id", "R1")])
        #expect(S3Client.mapError(status: 404, headers: h, body: [], method: "HEAD", bucket: "b", key: "k").code == .noSuchKey)
        #expect(S3Client.mapError(status: 404, headers: h, body: [], method: "HEAD", bucket: "b", key: nil).code == .noSuchBucket)
        #expect(S3Client.mapError(status: 403, headers: h, body: [], method: "HEAD", bucket: "b", key: nil).code == .accessDenied)
        let e = S3Client.mapError(status: 503, headers: h, body: [], method: "HEAD", bucket: "b", key: nil)
        #expect(e.code == .slowDown)
        #expect(e.isRetryable)
        #expect(e.requestID == "R1")
        #expect(!S3Client.mapError(status: 404, headers: h, body: [], method: "GET", bucket: "b", key: "k").isRetryable)
    }

    @Test func transportErrorsAreWrappedWithTheirCause() {
        let t = HTTPTransportError(kind: .connectionRefused, host: "127.0.0.1:1", curlCode: 7, message: "refused")
        let e = S3Client.wrap(t, bucket: "b", key: "k") as? S3Error
        #expect(e?.code == .transportFailure)
        #expect((e?.underlying as? HTTPTransportError)?.curlCode == 7)
        #expect(e?.isRetryable == true)
        #expect(S3Client.wrap(CancellationError(), bucket: nil, key: nil) is CancellationError)
    }
}

@Suite struct AddressingTests {
    @Test func pathStyle() throws {
        let a = S3Addressing(endpoint: try S3Endpoint("http://127.0.0.1:9000"), style: .path)
        let t = a.target(bucket: "b", key: "dir/a b+c.txt", query: [("versionId", "x/y"), ("uploads", "")])
        #expect(t.host == "127.0.0.1:9000")
        #expect(t.canonicalPath == "/b/dir/a%20b%2Bc.txt")
        #expect(t.url == "http://127.0.0.1:9000/b/dir/a%20b%2Bc.txt?versionId=x%2Fy&uploads")
        #expect(a.target(bucket: "b", key: nil, query: []).canonicalPath == "/b")
        #expect(a.target(bucket: nil, key: nil, query: []).canonicalPath == "/")
    }

    @Test func virtualHostStyleAndPrefixes() throws {
        let v = S3Addressing(endpoint: try S3Endpoint("https://s3.example.com/"), style: .virtualHost)
        let t = v.target(bucket: "b", key: "../x", query: [])
        #expect(t.host == "b.s3.example.com")
        #expect(t.url == "https://b.s3.example.com/../x")
        #expect(v.target(bucket: "b", key: nil, query: []).canonicalPath == "/")
        let p = S3Addressing(endpoint: try S3Endpoint("http://proxy:8080/storage/s3/"), style: .path)
        #expect(p.target(bucket: "b", key: "k", query: []).url == "http://proxy:8080/storage/s3/b/k")
        #expect(try S3Endpoint("http://[::1]:9000").description == "http://[::1]:9000")
        #expect(try S3Endpoint("https://host:443").description == "https://host")
    }

    @Test(arguments: ["ftp://x", "127.0.0.1:9000", "http://", "http://h/?q=1", "not a url"])
    func rejectsBadEndpoints(_ text: String) {
        #expect(throws: S3Error.self) { try S3Endpoint(text) }
    }
}

@Suite struct DateTests {
    @Test func parsesBothForms() {
        #expect(S3Dates.parseISO8601("2009-10-12T17:50:30.000Z") == Date(timeIntervalSince1970: 1_255_369_830))
        #expect(S3Dates.parseISO8601("1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
        #expect(S3Dates.parseISO8601("2024-02-29T23:59:59.5Z") == Date(timeIntervalSince1970: 1_709_251_199.5))
        #expect(S3Dates.parseHTTPDate("Wed, 12 Oct 2009 17:50:30 GMT") == Date(timeIntervalSince1970: 1_255_369_830))
        #expect(S3Dates.parseISO8601("2009-13-12T17:50:30Z") == nil)
        #expect(S3Dates.parseHTTPDate("12 Oct 2009") == nil)
        #expect(S3Dates.parseHTTPDate("Sun, 6 Nov 1994 08:49:37 GMT") == Date(timeIntervalSince1970: 784_111_777))
    }

    /// Whatever a server puts in `Date`, `Last-Modified` or `Expires` gives a date or nil, never
    /// a trap: a year of 17 digits overflowed the day count and crashed the process (found by
    /// the fuzzer in CI).
    @Test(arguments: ["Tue, 02 Dec 99999999999999999 00:00:00 GMT", "Tue, 02 Dec -9223372036854775807 00:00:00 GMT",
                      "Tue, 99999999999999999999 Dec 2111 00:00:00 GMT", "Tue, 02 Dec 2111 99999999999999999:00:00 GMT",
                      "Tue, 02 Dec 2111 -1:-1:-1 GMT", "Tue, +2 Dec 2111 00:00:00 GMT", "Tue, 02 Dec +2111 00:00:00 GMT",
                      "Tue, 02 Dec 211 00:00:00 GMT", "Tue, 02 Dec 2111 0:00:00 GMT", "Tue, 02  Dec 2111 00:00:00 GMT",
                      "Tuesday, 02 Dec 2111 00:00:00 GMT", "Tue, 02 Dec 2111 00:00 GMT", "Tue, 32 Dec 2111 00:00:00 GMT"])
    func malformedHTTPDatesAreNil(_ text: String) {
        #expect(S3Dates.parseHTTPDate(text) == nil)
    }

    /// Times no header can state are clamped when formatted, never a trap.
    @Test func httpDatesOfAnyTimeAreTotal() {
        #expect(S3Dates.httpDate(Date(timeIntervalSince1970: 1e300)) == "Fri, 31 Dec 9999 23:59:59 GMT")
        #expect(S3Dates.httpDate(Date(timeIntervalSince1970: -.infinity)) == "Mon, 01 Jan 0001 00:00:00 GMT")
        #expect(S3Dates.httpDate(Date(timeIntervalSince1970: .nan)) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(S3Dates.parseHTTPDate("Fri, 31 Dec 9999 23:59:59 GMT") == Date(timeIntervalSince1970: 253_402_300_799))
    }
}
