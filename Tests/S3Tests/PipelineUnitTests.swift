import Foundation
@testable import S3
import S3HTTP
import Testing

/// The pure parts of the request pipeline: retry classification, back-off, quota, clock and
/// region corrections, response checks, header safety.
@Suite struct PipelineUnitTests {
    func error(_ code: String, status: Int?, transport: HTTPTransportError.Kind? = nil) -> S3Error {
        S3Error(code: S3Error.Code(rawValue: code), message: "m", httpStatus: status,
                underlying: transport.map { HTTPTransportError(kind: $0, host: "h", curlCode: 0, message: "x") })
    }

    @Test func classification() {
        #expect(S3RetryKind.of(error("SlowDown", status: 503)) == .throttling)
        #expect(S3RetryKind.of(error("Throttling", status: 400)) == .throttling)
        #expect(S3RetryKind.of(error("HTTP429", status: 429)) == .throttling)
        #expect(S3RetryKind.of(error("InternalError", status: 500)) == .transient)
        #expect(S3RetryKind.of(error("HTTP502", status: 502)) == .transient)
        #expect(S3RetryKind.of(error("HTTP504", status: 504)) == .transient)
        #expect(S3RetryKind.of(error("RequestTimeout", status: 400)) == .timeout)
        #expect(S3RetryKind.of(error("HTTP408", status: 408)) == .timeout)
        #expect(S3RetryKind.of(error("ClientTransportFailure", status: nil, transport: .connectionBroken)) == .transient)
        #expect(S3RetryKind.of(error("ClientTransportFailure", status: nil, transport: .stalled)) == .timeout)
        #expect(S3RetryKind.of(error("ClientTransportFailure", status: nil, transport: .tls)) == nil)
        #expect(S3RetryKind.of(error("NoSuchKey", status: 404)) == nil)
        #expect(S3RetryKind.of(error("AccessDenied", status: 403)) == nil)
        #expect(S3RetryKind.of(error("HTTP501", status: 501)) == nil)
        #expect(S3RetryKind.of(error("InvalidPart", status: 200)) == nil)
        #expect(S3RetryKind.of(error("InternalError", status: 200)) == .transient)
    }

    @Test func backOffIsFullJitterCappedAndHonoursTheServersHint() {
        let p = S3RetryPolicy()
        for _ in 0..<200 {
            #expect(p.delay(beforeRetry: 1, kind: .transient, serverHint: nil) <= .milliseconds(50))
            #expect(p.delay(beforeRetry: 3, kind: .transient, serverHint: nil) <= .milliseconds(200))
            #expect(p.delay(beforeRetry: 1, kind: .throttling, serverHint: nil) <= .seconds(1))
            #expect(p.delay(beforeRetry: 30, kind: .throttling, serverHint: nil) <= .seconds(20))
            let hinted = p.delay(beforeRetry: 1, kind: .transient, serverHint: .seconds(2))
            #expect(hinted >= .seconds(2) - .milliseconds(1) && hinted <= .seconds(2))
            let huge = p.delay(beforeRetry: 1, kind: .transient, serverHint: .seconds(3600))
            #expect(huge <= .milliseconds(5050), "a hint is honoured only up to 5 s beyond the computed delay")
        }
        let spread = Set((0..<50).map { _ in p.delay(beforeRetry: 4, kind: .throttling, serverHint: nil) })
        #expect(spread.count > 40, "jittered")
    }

    @Test func retryHintsAreReadFromTheHeaders() {
        let ms = S3Client.mapError(status: 503, headers: ["x-amz-retry-after": "1500"], body: [], method: "GET", bucket: "b", key: "k")
        #expect(ms.retryAfter == .milliseconds(1500))
        let s = S3Client.mapError(status: 503, headers: ["Retry-After": "3"], body: [], method: "GET", bucket: "b", key: "k")
        #expect(s.retryAfter == .seconds(3))
        #expect(s.code == .slowDown)
    }

    @Test func theQuotaEmptiesAndRefills() {
        let q = S3RetryQuota(capacity: 12)
        #expect(q.acquire(S3RetryQuota.cost(of: .transient)))
        #expect(q.acquire(S3RetryQuota.cost(of: .transient)))
        #expect(!q.acquire(S3RetryQuota.cost(of: .timeout)))
        #expect(q.available == 2)
        q.refund(100)
        #expect(q.available == 12)
    }

    @Test func clockSkewIsAdoptedFromTheServersDateOnlyWhenItSaysSo() {
        let clock = ClockSkew()
        let now = Int(Date().timeIntervalSince1970)
        var e = error("RequestTimeTooSkewed", status: 403)
        e.serverDate = Date(timeIntervalSince1970: TimeInterval(now + 3600))
        #expect(clock.correct(after: e, signedAt: now))
        #expect(abs(clock.seconds - 3600) <= 1)
        #expect(!clock.correct(after: e, signedAt: clock.now()), "already corrected")
        var other = error("NoSuchKey", status: 404)
        other.serverDate = Date(timeIntervalSince1970: 0)
        #expect(!clock.correct(after: other, signedAt: clock.now()))
        var small = error("SignatureDoesNotMatch", status: 403)
        small.serverDate = Date(timeIntervalSince1970: TimeInterval(now + 3600 + 100))
        #expect(!clock.correct(after: small, signedAt: clock.now()), "under 5 minutes off: left alone")
    }

    @Test func regionRedirects() {
        var e = error("PermanentRedirect", status: 301)
        e.regionHint = "eu-west-1"
        #expect(BucketRegions.redirectRegion(in: e) == "eu-west-1")
        var m = error("AuthorizationHeaderMalformed", status: 400)
        m.regionHint = "ap-south-1"
        #expect(BucketRegions.redirectRegion(in: m) == "ap-south-1")
        var bad = error("PermanentRedirect", status: 301)
        bad.regionHint = "eu-west-1\r\nx: y"
        #expect(BucketRegions.redirectRegion(in: bad) == nil, "a region from a response must be safe to sign and address with")
        var notRedirect = error("AccessDenied", status: 403)
        notRedirect.regionHint = "eu-west-1"
        #expect(BucketRegions.redirectRegion(in: notRedirect) == nil)
        let fromBody = S3Client.mapError(status: 400, headers: [:], body: Array("<Error><Code>AuthorizationHeaderMalformed</Code><Region>us-west-2</Region></Error>".utf8),
                                         method: "GET", bucket: "b", key: nil)
        #expect(fromBody.regionHint == "us-west-2")
        let addressing = S3Addressing(endpoint: try! S3Endpoint("https://s3.amazonaws.com"), style: .path)
        #expect(addressing.target(bucket: "b", key: "k", query: [], region: "eu-west-1").host == "s3.eu-west-1.amazonaws.com")
        let custom = S3Addressing(endpoint: try! S3Endpoint("http://127.0.0.1:9000"), style: .path)
        #expect(custom.target(bucket: "b", key: "k", query: [], region: "eu-west-1").host == "127.0.0.1:9000")
    }

    @Test func rangedResponsesMustBeWhatWasAsked() throws {
        func head(_ status: Int, _ fields: [(String, String)]) -> HTTPResponseHead { HTTPResponseHead(status: status, headers: HTTPHeaders(fields)) }
        let asked: ClosedRange<Int64> = 100...199
        try S3Client.checkRangedResponse(head(206, [("Content-Range", "bytes 100-199/1000"), ("Content-Length", "100")]), asked: asked, bucket: "b", key: "k")
        try S3Client.checkRangedResponse(head(206, [("Content-Range", "bytes 100-149/150"), ("Content-Length", "50")]), asked: asked, bucket: "b", key: "k")
        for bad in [head(200, [("Content-Length", "1000")]), head(206, [("Content-Range", "bytes 0-99/1000")]),
                    head(206, [("Content-Range", "bytes 100-199/1000"), ("Content-Length", "99")]), head(206, []),
                    head(206, [("Content-Range", "bytes 100-149/1000")]), head(204, [])] {
            #expect(throws: S3Error.self) { try S3Client.checkRangedResponse(bad, asked: asked, bucket: "b", key: "k") }
        }
        try S3Client.checkRangedResponse(head(200, [("Content-Length", "40")]), asked: 0...99, bucket: "b", key: "k")
        #expect(throws: S3Error.self) { try S3Client.checkRangedResponse(head(200, [("Content-Length", "400")]), asked: 0...99, bucket: "b", key: "k") }
        #expect(S3Client.parseContentRange("bytes 1-2/*")! == (1, 2, nil))
        #expect(S3Client.parseContentRange("bytes 5-2/10") == nil)
        #expect(S3Client.parseContentRange("bytes 0-10/10") == nil)
    }

    @Test func errorDocumentsIn200AreFound() {
        let request = S3Request("POST", bucket: "b", key: "k")
        let ok = HTTPResponseHead(status: 200, headers: HTTPHeaders())
        #expect(S3Client.errorDocumentIn200(head: ok, body: Array("<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code></Error>".utf8), request: request)?.code == .internalError)
        #expect(S3Client.errorDocumentIn200(head: ok, body: Array("<CompleteMultipartUploadResult><ETag>x</ETag></CompleteMultipartUploadResult>".utf8), request: request) == nil)
        #expect(S3Client.errorDocumentIn200(head: ok, body: [], request: request) == nil)
    }

    @Test func headersThatWouldBreakTheRequestApartAreRefused() {
        for (name, value) in [("Content-Type", "a\r\nb: c"), ("x-amz-meta-a", "x\ny"), ("x-amz-meta-a", "x\0"), ("Bad Name", "v"), ("", "v"), ("a:b", "v")] {
            #expect(throws: S3Error.self) { try Validation.headers(method: "PUT", HTTPHeaders([(name, value)]), bucket: "b", key: "k") }
            #expect(HTTPRequest(method: "PUT", url: "http://127.0.0.1/", headers: HTTPHeaders([(name, value)])).headerProblem != nil)
        }
        #expect(throws: S3Error.self) { try Validation.headers(method: "GET\r\nX", HTTPHeaders(), bucket: nil, key: nil) }
        #expect(throws: Never.self) { try Validation.headers(method: "PUT", HTTPHeaders([("Content-Type", "text/plain; charset=utf-8"), ("x-amz-meta-t", "a\tb")]), bucket: "b", key: "k") }
        #expect(HTTPRequest(method: "GET", url: "http://127.0.0.1/a\r\nb").headerProblem != nil)
    }
}
