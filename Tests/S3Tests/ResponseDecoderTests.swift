import Foundation
@_spi(Fuzzing) @testable import S3
import S3HTTP
import Testing

/// The response decoders on the fuzz target's seed corpus (Tests/Fixtures/fuzz-corpus): each
/// seed decodes to what S3 meant, and the whole corpus goes through the fuzz entry point.
@Suite struct ResponseDecoderTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fuzz-corpus")

    func seed(_ name: String) throws -> XMLNode {
        try XMLParser.parse([UInt8](try Data(contentsOf: Self.corpus.appendingPathComponent(name))))
    }

    @Test func everySeedGoesThroughTheFuzzEntryPoint() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).sorted()
        #expect(files.count >= 15)
        for file in files {
            S3ResponseFuzzing.exercise([UInt8](try Data(contentsOf: Self.corpus.appendingPathComponent(file))))
        }
    }

    /// The pull decoder the client lists with gives what the tree decoder gives, field for
    /// field, on every seed (the fuzz target checks the same on every input it makes).
    @Test func thePullDecoderAgreesWithTheTree() throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path) where name.hasSuffix(".xml") {
            let bytes = [UInt8](try Data(contentsOf: Self.corpus.appendingPathComponent(name)))
            let tree = ResponseDecoders.listPage(try XMLParser.parse(bytes))
            #expect(try S3ResponseFuzzing.decodeListPage(bytes) == tree, "\(name)")
        }
        let tricky = try S3ResponseFuzzing.decodeListPage([UInt8](try Data(contentsOf: Self.corpus.appendingPathComponent("list-tricky.xml"))))
        #expect(tricky.objects.map(\.key) == ["a<b> é😀", "", "big"])
        #expect(tricky.objects.map(\.size) == [12, 0, 0])
        #expect(tricky.objects.map(\.eTag) == ["weak", nil, "e\"x"])
        #expect(abs((tricky.objects[0].lastModified?.timeIntervalSince1970 ?? 0) - 1_704_164_645.678) < 0.0005)
        #expect(tricky.objects.map(\.storageClass) == ["STANDARD", nil, "GLACIER"])
        #expect(tricky.commonPrefixes == ["p/"])
        #expect(tricky.isTruncated && tricky.nextContinuationToken == "t&1" && tricky.keyCount == 4)
        // Refused alike: what the parser refuses, the pull decoder refuses.
        for bad in ["<a><b></a>", "<a>&bogus;</a>", "<a/><b/>", "text<a/>", "<a>\u{1}</a>", "<a>"] {
            #expect(throws: XMLParseError.self) { try S3ResponseFuzzing.decodeListPage(Array(bad.utf8)) }
            #expect(throws: XMLParseError.self) { try XMLParser.parse(Array(bad.utf8)) }
        }
    }

    @Test func seedsDecodeToWhatTheyMean() throws {
        let page = ResponseDecoders.listPage(try seed("list-page.xml"))
        #expect(page.objects.map(\.key) == ["a & b/é.txt", "c"])
        #expect(page.objects.first?.eTag == "9b2cf535f27731c974343645a3985328")
        #expect(page.commonPrefixes == ["logs/"])
        #expect(page.isTruncated && page.nextContinuationToken?.isEmpty == false)
        #expect(ResponseDecoders.buckets(try seed("buckets.xml")).map(\.name) == ["photos", "x"])
        #expect(ResponseDecoders.lifecycleRules(try seed("lifecycle.xml")).first?.expirationDays == 5)
        #expect(ResponseDecoders.deleteFailures(try seed("delete-result.xml")).map(\.key) == ["b"])
        let versions = ResponseDecoders.versions(try seed("versions.xml"))
        #expect(versions.versions.map(\.isDeleteMarker) == [false, true])
        #expect(versions.nextVersionIDMarker == "v")
        #expect(ResponseDecoders.multipartUploads(try seed("uploads.xml")).uploads.first?.uploadID == "abc-123")
        let parts = ResponseDecoders.parts(try seed("parts.xml"))
        #expect(parts.parts.map(\.eTag) == ["e1", "e2"])
        #expect(parts.nextMarker == "2")
        #expect(ResponseDecoders.uploadID(try seed("initiate.xml")) == "VXBsb2FkIElE")
        #expect(ResponseDecoders.completedETag(try seed("complete.xml")) == "3858f62230ac3c915f300c664312c11f-9")
        let error = S3Client.mapError(status: 404, headers: HTTPHeaders(), body: [UInt8](try Data(contentsOf: Self.corpus.appendingPathComponent("error.xml"))),
                                      method: "GET", bucket: "b", key: "k")
        #expect(error.code == .noSuchKey)
        #expect(error.requestID == "4442587FB7D0A2F9")
        let odd = try seed("cdata-comments.xml")
        #expect(odd.value("Code") == "Slow<Down>")
        #expect(odd.value("Message") == "AB<>'\"")
    }

    /// The configuration decoders (Object Lock, retention, legal hold, CORS, ownership) and
    /// GetObjectAttributes on their seeds, and on bodies that parse but say nothing S3 would.
    @Test func configurationSeedsDecodeToWhatTheyMean() throws {
        // moto's shape: the period not set answered as 0.
        let lock = try ResponseDecoders.objectLockConfiguration(try seed("object-lock.xml"))
        #expect(lock.enabled && lock.defaultRetention == S3DefaultRetention(mode: .governance, period: .years(2)))
        let retention = try ResponseDecoders.objectRetention(try seed("retention.xml"))
        #expect(retention?.mode == .compliance && retention?.retainUntil == Date(timeIntervalSince1970: 1_893_553_445))
        #expect(ResponseDecoders.legalHold(try seed("legal-hold.xml")))
        let cors = try ResponseDecoders.corsRules(try seed("cors.xml"))
        #expect(cors == [
            S3CORSRule(id: "web", allowedMethods: [.get, .put], allowedOrigins: ["https://example.com"], allowedHeaders: ["*"],
                       exposeHeaders: ["ETag"], maxAgeSeconds: 3000),
            S3CORSRule(allowedMethods: [.head], allowedOrigins: ["*"]),
        ])
        #expect(try ResponseDecoders.objectOwnership(try seed("ownership.xml")) == .bucketOwnerEnforced)
        let attributes = ResponseDecoders.objectAttributes(try seed("attributes.xml"))
        #expect(attributes.parts.map(\.size) == [5 << 20, 1 << 20] && attributes.size == 6 << 20 && attributes.partsCount == 2)

        // Nothing configured reads as nothing; what S3 would not say is refused, with why.
        let empty = try XMLParser.parse("<X/>")
        #expect(try ResponseDecoders.objectLockConfiguration(empty) == S3ObjectLockConfiguration(enabled: false))
        #expect(try ResponseDecoders.objectRetention(empty) == nil)
        #expect(!ResponseDecoders.legalHold(empty))
        #expect(try ResponseDecoders.corsRules(empty).isEmpty)
        #expect(try ResponseDecoders.objectOwnership(empty) == nil)
        func refused(_ xml: String, _ decoder: (XMLNode) throws -> Void) throws -> String? {
            let node = try XMLParser.parse(xml)
            do {
                try decoder(node)
                return nil
            } catch let e as ResponseDecoders.Malformed {
                return e.message
            }
        }
        #expect(try refused("<O><Rule><DefaultRetention><Mode>LOOSE</Mode><Days>1</Days></DefaultRetention></Rule></O>") {
            _ = try ResponseDecoders.objectLockConfiguration($0) } == "the default retention has no valid Mode")
        #expect(try refused("<O><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule></O>") {
            _ = try ResponseDecoders.objectLockConfiguration($0) } == "the default retention has neither Days nor Years")
        #expect(try refused("<R><Mode>GOVERNANCE</Mode><RetainUntilDate>soon</RetainUntilDate></R>") {
            _ = try ResponseDecoders.objectRetention($0) } == "the retention has no valid Mode and RetainUntilDate")
        #expect(try refused("<C><CORSRule><AllowedMethod>PATCH</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule></C>") {
            _ = try ResponseDecoders.corsRules($0) } == "a CORS rule allows a method S3 does not have")
        #expect(try refused("<O><Rule><ObjectOwnership>Anyone</ObjectOwnership></Rule></O>") {
            _ = try ResponseDecoders.objectOwnership($0) } == "unknown ObjectOwnership \"Anyone\"")
    }
}
