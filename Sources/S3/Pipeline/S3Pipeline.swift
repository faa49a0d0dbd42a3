import Foundation
import S3HTTP
import S3Signing

// The one path every S3 request takes, single calls and each part and range of a transfer:
//
//   1. check      method and headers are safe to send (no CR/LF/NUL)        Validation.headers
//   2. address    URL and Host, in the bucket's known region                 S3Addressing, BucketRegions
//   3. sign       SigV4 with the credentials current now, at the store's time  CredentialCache, SigV4Signer, ClockSkew
//   4. send       one attempt through the curl engine                        HTTPEngine
//                 (each attempt logged, measured and traced)                 OperationObservation
//   5. validate   2xx, the body read whole (collect), "200 with <Error>",    S3ResponseCheck
//                 the operation's own check (a ranged GET's Content-Range)
//   6. map        an error response or transport failure to an S3Error       S3ErrorMapping
//   7. decide     a clock skew or a wrong region: correct and send once more;  ClockSkew, BucketRegions,
//                 a retryable failure of a replayable body: back off and retry S3RetryPolicy, S3RetryQuota
//
// A response whose body is streamed to the caller (getObject) leaves the pipeline once its head
// is in; a body that breaks later is resumed by the reader from the byte where it broke, with
// the same policy and quota (S3Pipeline.shouldResume).

/// A check of a successful response before it is handed on; throws to reject it.
typealias S3ResponseCheck = @Sendable (HTTPResponseHead) throws(S3Error) -> Void

/// A response that passed the pipeline: its head, its streaming body, and how many attempts it took.
struct S3Response: Sendable {
    let head: HTTPResponseHead
    let body: HTTPResponseBody
    /// Sends it took (1 = no retry).
    let attempts: Int
    var headers: HTTPHeaders { head.headers }
    var status: Int { head.status }
}

/// A response read whole.
struct S3CollectedResponse: Sendable {
    let head: HTTPResponseHead
    let body: [UInt8]
    let attempts: Int
}

extension S3Client {
    /// Runs `operation` with `policy` for every request it sends from this task and its child
    /// tasks, instead of the client's ``S3Configuration/retry``.
    ///
    /// ```swift
    /// try await S3Client.withRetryPolicy(.none) { try await client.headObject(bucket: "b", key: "k") }
    /// ```
    public static func withRetryPolicy<T>(_ policy: S3RetryPolicy, operation: () async throws -> T) async rethrows -> T {
        try await S3RetryPolicy.$current.withValue(policy, operation: operation)
    }

    /// The policy in force for a request sent now.
    var retryPolicy: S3RetryPolicy { S3RetryPolicy.current ?? configuration.retry }

    /// Sends `request` through the pipeline; returns once a 2xx head is in (the body streams).
    func send(_ request: S3Request) async throws -> S3Response {
        try await pipeline(request) { response, attempts in
            S3Response(head: response.head, body: response.body, attempts: attempts)
        }
    }

    /// Sends `request` and reads the whole (small) response body; a body that breaks is a
    /// failed attempt like any other.
    func sendAndCollect(_ request: S3Request, limit: Int = 64 << 20) async throws -> S3CollectedResponse {
        try await pipeline(request) { response, attempts in
            let body = try await response.body.collect(upTo: limit)
            if request.errorMayComeWith200, let error = Self.errorDocumentIn200(head: response.head, body: body, request: request) {
                throw error
            }
            return S3CollectedResponse(head: response.head, body: body, attempts: attempts)
        }
    }

    /// The attempt loop: stages 2 to 7 above. `finish` turns a 2xx response into the result
    /// (reading its body when the caller wants it whole); what it throws is decided on too.
    private func pipeline<T>(_ request: S3Request, finish: (HTTPResponse, Int) async throws -> T) async throws -> T {
        try Validation.headers(method: request.method, request.headers, bucket: request.bucket, key: request.key)
        let policy = retryPolicy
        let observation = OperationObservation(request: request, client: self)
        var attempt = 1
        var corrected = false
        var spent = 0  // retry-quota tokens this call took
        while true {
            let signedAt = clock.now()
            var identity: SigningIdentity?
            var observed: AttemptObservation?
            do {
                try Task.checkCancellation()
                identity = try await signingIdentity()
                let (http, target) = try prepare(request, signedAt: signedAt, identity: identity!)
                observed = observation.startAttempt(attempt, url: target)
                sentRequests.add(1, ordering: .relaxed)
                let response = try await engine.execute(http)
                observation.received(response.head, bodyLength: http.body.length, in: observed!)
                guard (200..<300).contains(response.status) else {
                    let body = (try? await response.body.collect(upTo: 1 << 20)) ?? []
                    throw Self.mapError(status: response.status, headers: response.headers, body: body, method: request.method,
                                        bucket: request.bucket, key: request.key)
                }
                try request.check?(response.head)
                let result = try await finish(response, attempt)
                retryQuota.refund(spent == 0 ? 1 : spent)
                observation.endAttempt(observed!, error: nil)
                observation.succeeded(attempts: attempt)
                return result
            } catch {
                var e = Self.wrap(error, bucket: request.bucket, key: request.key)
                if let observed { observation.endAttempt(observed, error: e as? S3Error) }
                guard var s3 = e as? S3Error else {  // cancellation
                    observation.failed(e, attempts: attempt)
                    throw e
                }
                s3.attempts = attempt
                e = s3
                // A clock or region correction is sent again at once; it counts as an attempt
                // (the first one is allowed even when the policy allows no retry).
                if !corrected || attempt < policy.maxAttempts, correct(after: s3, request: request, signedAt: signedAt, identity: identity) {
                    observation.correcting(after: s3, attempt: attempt)
                    corrected = true
                    attempt += 1
                    continue
                }
                guard let delay = retryDelay(after: s3, attempt: attempt, policy: policy, replayable: request.body.isReplayable) else {
                    let final = Self.noteUnreplayable(s3, request: request, policy: policy)
                    observation.failed(final, attempts: attempt)
                    throw final
                }
                observation.retrying(after: s3, attempt: attempt, delay: delay)
                spent += S3RetryKind.of(s3).map(S3RetryQuota.cost(of:)) ?? 0
                do { try await Task.sleep(for: delay) } catch {
                    observation.failed(error, attempts: attempt)
                    throw error
                }
                attempt += 1
            }
        }
    }

    /// Stages 2 and 3 for one attempt: address, sign at `signedAt` with `identity`. Returns the
    /// request to send and its URL.
    private func prepare(_ request: S3Request, signedAt: Int, identity: SigningIdentity) throws(S3Error) -> (HTTPRequest, String) {
        let learnt = request.bucket.flatMap { bucketRegions.region(of: $0) }
        let region = learnt ?? configuration.region
        let target = addressing.target(bucket: request.bucket, key: request.key, query: request.query, region: learnt)
        var headers = request.headers
        headers.set("Host", target.host)
        var toSign = SigV4Request(method: request.method, path: target.canonicalPath, query: request.query,
                                  headers: Self.signedHeaders(headers), payloadHash: request.payloadHash)
        switch configuration.signatureVersion {
        case .v4:
            identity.signer(for: region).sign(&toSign, at: SigV4Timestamp(secondsSince1970: signedAt))
        case .v4a(let regionSet):
            do {
                try identity.asymmetricSigner(regionSet: regionSet).sign(&toSign, at: SigV4Timestamp(secondsSince1970: signedAt))
            } catch let e as S3Error {
                throw e
            } catch {
                throw S3Error.invalidArgument("SigV4a signing failed: \(error)", bucket: request.bucket, key: request.key)
            }
        }
        for (name, value) in toSign.headers where !headers.contains(name) { headers.add(name, value) }
        if let buffer = request.responseBuffer { buffer.count = request.responseBufferStart }
        var http = HTTPRequest(method: request.method, url: target.url, headers: headers, body: request.body,
                               responseBuffer: request.responseBuffer)
        http.responseFile = request.responseFile
        return (http, target.url)
    }

    /// Stage 7a: a refused clock, a wrong region or a session token the store says has expired
    /// (before the expiry the credentials came with) is fixed here and the request sent again.
    private func correct(after error: S3Error, request: S3Request, signedAt: Int, identity: SigningIdentity?) -> Bool {
        if clock.correct(after: error, signedAt: signedAt) { return true }
        if let identity, error.code == "ExpiredToken" || error.code == "TokenRefreshRequired" || error.code == "ExpiredTokenException",
           credentialCache.invalidate(identity) {
            return true
        }
        if let bucket = request.bucket, let region = BucketRegions.redirectRegion(in: error),
           region != (bucketRegions.region(of: bucket) ?? configuration.region) {
            bucketRegions.remember(region, for: bucket)
            return true
        }
        return false
    }

    /// Stage 7b: how long to wait before sending again after `error` on attempt number
    /// `attempt`, or nil when it must not be sent again (not retryable, attempts spent, a body
    /// that cannot be replayed, or the client's retry quota is empty).
    func retryDelay(after error: S3Error, attempt: Int, policy: S3RetryPolicy, replayable: Bool = true) -> Duration? {
        guard replayable, attempt < policy.maxAttempts, let kind = S3RetryKind.of(error),
              retryQuota.acquire(S3RetryQuota.cost(of: kind)) else { return nil }
        retries.add(1, ordering: .relaxed)
        return policy.delay(beforeRetry: attempt, kind: kind, serverHint: error.retryAfter)
    }

    /// Whether a body that broke after `attempt` reads may be resumed (with a ranged GET from
    /// the byte where it broke); sleeps the back-off first. Counts against the same policy
    /// and quota as every other retry.
    func shouldResume(after error: any Error, attempt: Int, policy: S3RetryPolicy) async throws -> Bool {
        guard let s3 = error as? S3Error, let delay = retryDelay(after: s3, attempt: attempt, policy: policy) else { return false }
        try await Task.sleep(for: delay)
        return true
    }

    /// Says why a retryable failure was not retried when the body was a one-shot stream.
    private static func noteUnreplayable(_ error: S3Error, request: S3Request, policy: S3RetryPolicy) -> S3Error {
        guard !request.body.isReplayable, error.isRetryable, policy.maxAttempts > 1 else { return error }
        var e = error
        e.message += " (not retried: the request body is a one-shot stream that cannot be sent again)"
        return e
    }

    /// Headers that take part in the signature: `host`, `content-type`, `content-md5`,
    /// `range`, conditionals and every `x-amz-*`.
    private static func signedHeaders(_ headers: HTTPHeaders) -> [(String, String)] {
        headers.fields.compactMap { field in
            let n = field.name.lowercased()
            let signed = n == "host" || n == "content-type" || n == "content-md5" || n == "range" || n.hasPrefix("x-amz-")
                || n.hasPrefix("if-")
            return signed ? (n, field.value) : nil
        }
    }

    /// Stage 5: S3 may answer CompleteMultipartUpload and CopyObject with 200 and an `<Error>`
    /// document (the failure came after the status was sent): that is an error, mapped as if
    /// its status were 500 unless the code says otherwise, so that it is retried when the code
    /// is transient.
    static func errorDocumentIn200(head: HTTPResponseHead, body: [UInt8], request: S3Request) -> S3Error? {
        // Cheap test first: the document's root is the first element.
        guard let start = body.firstIndex(of: UInt8(ascii: "<")) else { return nil }
        var i = start
        if body[start...].starts(with: "<?xml".utf8), let end = body[start...].firstIndex(of: UInt8(ascii: ">")) {
            i = body[(end + 1)...].firstIndex(of: UInt8(ascii: "<")) ?? body.endIndex
        }
        guard body[i...].starts(with: "<Error>".utf8) || body[i...].starts(with: "<Error ".utf8) else { return nil }
        var e = mapError(status: 200, headers: head.headers, body: body, method: request.method, bucket: request.bucket, key: request.key)
        e.message += " (answered with HTTP 200)"
        return e
    }
}

/// Stage 6: turning what came back into an ``S3Error``.
extension S3Client {
    /// Wraps a transport or other error into an ``S3Error``; `CancellationError` and
    /// `S3Error` pass through.
    static func wrap(_ error: any Error, bucket: String?, key: String?) -> any Error {
        if error is CancellationError || error is S3Error { return error }
        if let t = error as? HTTPTransportError {
            if t.kind == .invalidRequest {
                return S3Error(code: .invalidArgument, message: t.message, bucket: bucket, key: key, underlying: t)
            }
            return S3Error(code: .transportFailure, message: t.description, bucket: bucket, key: key, underlying: t)
        }
        return S3Error(code: .invalidResponse, message: String(describing: error), bucket: bucket, key: key, underlying: error)
    }

    /// Maps an HTTP error response to an ``S3Error``. Bodies of HEAD responses are empty, so the
    /// code then comes from the status and what was asked for.
    static func mapError(status: Int, headers: HTTPHeaders, body: [UInt8], method: String, bucket: String?, key: String?) -> S3Error {
        var code: S3Error.Code
        var message: String
        var requestID = headers["x-amz-request-id"]
        var hostID = headers["x-amz-id-2"]
        var errBucket = bucket, errKey = key
        var region = headers["x-amz-bucket-region"]
        if !body.isEmpty, let xml = try? XMLParser.parse(body), xml.name == "Error" {
            code = S3Error.Code(rawValue: xml.value("Code") ?? "HTTP\(status)")
            message = xml.value("Message") ?? "HTTP status \(status)"
            requestID = xml.value("RequestId") ?? requestID
            hostID = xml.value("HostId") ?? hostID
            errBucket = xml.value("BucketName") ?? errBucket
            errKey = xml.value("Key") ?? errKey
            region = region ?? xml.value("Region")
        } else {
            switch status {
            case 404 where key != nil: code = .noSuchKey; message = "The specified key does not exist."
            case 404 where bucket != nil: code = .noSuchBucket; message = "The specified bucket does not exist."
            case 403: code = .accessDenied; message = "Access Denied"
            case 412: code = .preconditionFailed; message = "At least one of the preconditions you specified did not hold."
            case 304: code = .notModified; message = "Not modified."
            case 416: code = .invalidRange; message = "The requested range is not satisfiable."
            case 503: code = .slowDown; message = "Service unavailable; slow down."
            case 301, 307:
                code = S3Error.Code(rawValue: status == 301 ? "PermanentRedirect" : "TemporaryRedirect")
                message = "The bucket is in another region" + (region.map { " (\($0))" } ?? "")
            default:
                code = S3Error.Code(rawValue: "HTTP\(status)")
                message = "HTTP status \(status)" + (body.isEmpty ? "" : ": " + String(decoding: body.prefix(200), as: UTF8.self))
            }
        }
        var e = S3Error(code: code, message: message, httpStatus: status, requestID: requestID, hostID: hostID,
                        bucket: errBucket, key: errKey)
        e.serverDate = headers["date"].flatMap(S3Dates.parseHTTPDate)
        e.eTag = headers["etag"].map(S3Client.unquote)
        e.regionHint = region
        if let ms = headers["x-amz-retry-after"].flatMap({ Int($0) }), ms >= 0 {
            e.retryAfter = .milliseconds(ms)
        } else if let s = headers["retry-after"].flatMap({ Int($0) }), s >= 0 {
            e.retryAfter = .seconds(s)
        }
        return e
    }
}
