import Foundation
import NIOCore
import NIOHTTP1
import S3Signing

/// One HTTP/1.1 connection of the benchmark server: gathers a request's body slices, then
/// answers the S3 operation the method, path and query name. Signatures are not checked.
final class S3Handler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let store: ObjectStore
    private var head: HTTPRequestHead?
    private var body: [ByteBuffer] = []
    private var bodySize = 0

    init(store: ObjectStore) { self.store = store }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.removeAll(keepingCapacity: true)
            bodySize = 0
            if head.headers["expect"].first?.lowercased() == "100-continue" {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
        case .body(let chunk):
            bodySize += chunk.readableBytes
            body.append(chunk)
        case .end:
            guard let head else { return }
            self.head = nil
            let request = Request(head: head, body: body, bodySize: bodySize)
            body = []
            respond(context: context, to: request, keepAlive: head.isKeepAlive)
        }
    }

    // MARK: Responses

    private func respond(context: ChannelHandlerContext, to request: Request, keepAlive: Bool) {
        let response: Response
        do {
            response = try route(request)
        } catch let error as S3Failure {
            response = .error(error)
        } catch {
            response = .error(S3Failure(.internalServerError, "InternalError", "\(error)"))
        }
        var headers = response.headers
        headers.add(name: "x-amz-request-id", value: "bench")
        if !keepAlive { headers.add(name: "connection", value: "close") }
        headers.add(name: "content-length", value: String(response.contentLength))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.head.version, status: response.status, headers: headers))), promise: nil)
        if request.head.method != .HEAD {
            for slice in response.body where slice.readableBytes > 0 {
                context.write(wrapOutboundOut(.body(.byteBuffer(slice))), promise: nil)
            }
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { (_: Result<Void, Error>) in channel.close(promise: nil) }
        }
    }

    private func route(_ request: Request) throws -> Response {
        let (bucket, key) = request.bucketAndKey
        let q = request.query
        guard let bucket else {
            guard request.head.method == .GET else { throw S3Failure.notImplemented }
            return .xml(Self.listBuckets(store.bucketNames()))
        }
        guard let key else { return try bucketOperation(request, bucket: bucket, query: q) }
        switch request.head.method {
        case .PUT:
            if let part = q["partNumber"], let uploadID = q["uploadId"] {
                return try uploadPart(request, bucket: bucket, uploadID: uploadID, number: Int(part) ?? 0)
            }
            if request.head.headers["x-amz-copy-source"].first != nil { throw S3Failure.notImplemented }
            let object = storedObject(request)
            guard store.put(bucket, key: key, object: object) else { throw S3Failure.noSuchBucket }
            return Response(headers: ["ETag": "\"\(object.etag)\""])
        case .GET where q["uploadId"] != nil:
            return try listParts(bucket: bucket, key: key, uploadID: q["uploadId"]!)
        case .GET, .HEAD:
            return try getObject(request, bucket: bucket, key: key)
        case .POST where q["uploads"] != nil:
            let id = store.newUploadID()
            let type = request.head.headers["content-type"].first ?? "binary/octet-stream"
            guard store.withBucket(bucket, { $0.uploads[id] = PendingUpload(key: key, contentType: type) }) != nil else { throw S3Failure.noSuchBucket }
            return .xml("<InitiateMultipartUploadResult><Bucket>\(xmlEscape(bucket))</Bucket><Key>\(xmlEscape(key))</Key><UploadId>\(id)</UploadId></InitiateMultipartUploadResult>")
        case .POST where q["uploadId"] != nil:
            return try completeUpload(request, bucket: bucket, key: key, uploadID: q["uploadId"]!)
        case .DELETE where q["uploadId"] != nil:
            let found = store.withBucket(bucket) { $0.uploads.removeValue(forKey: q["uploadId"]!) != nil }
            guard let found else { throw S3Failure.noSuchBucket }
            guard found else { throw S3Failure.noSuchUpload }
            return Response(status: .noContent)
        case .DELETE:
            store.delete(bucket, key: key)
            return Response(status: .noContent)
        default:
            throw S3Failure.notImplemented
        }
    }

    private func bucketOperation(_ request: Request, bucket: String, query q: [String: String]) throws -> Response {
        switch request.head.method {
        case .PUT where q.isEmpty:
            _ = store.createBucket(bucket)
            return Response(headers: ["Location": "/\(bucket)"])
        case .HEAD:
            guard store.withBucket(bucket, { _ in () }) != nil else { return Response(status: .notFound) }
            return Response()
        case .DELETE where q.isEmpty:
            if let code = store.deleteBucket(bucket) {
                throw code == "NoSuchBucket" ? S3Failure.noSuchBucket : S3Failure(.conflict, code, "The bucket is not empty")
            }
            return Response(status: .noContent)
        case .GET where q["location"] != nil:
            guard store.withBucket(bucket, { _ in () }) != nil else { throw S3Failure.noSuchBucket }
            return .xml("<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></LocationConstraint>")
        case .GET where q["uploads"] == nil && q["versions"] == nil && q.keys.allSatisfy(Self.listParameters.contains):
            return try listObjects(bucket: bucket, query: q)
        case .POST where q["delete"] != nil:
            return try deleteObjects(request, bucket: bucket)
        default:
            throw S3Failure.notImplemented
        }
    }

    private static let listParameters: Set<String> = [
        "list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after",
        "encoding-type", "fetch-owner", "marker",
    ]

    // MARK: Objects

    private func storedObject(_ request: Request) -> StoredObject {
        let headers = request.head.headers
        var chunks = request.body, size = request.bodySize
        let encoding = headers["content-encoding"].first ?? ""
        if encoding.contains("aws-chunked") || (headers["x-amz-content-sha256"].first ?? "").hasPrefix("STREAMING-") {
            let decoded = decodeAWSChunked(chunks)
            chunks = [decoded]
            size = decoded.readableBytes
        }
        let etag: String
        if let md5 = headers["content-md5"].first, let raw = Data(base64Encoded: md5), raw.count == 16 {
            etag = Digest.hex(raw)
        } else {
            etag = store.uniqueETag()
        }
        var metadata: [(String, String)] = []
        for (name, value) in headers where name.lowercased().hasPrefix("x-amz-meta-") {
            metadata.append((name.lowercased(), value))
        }
        metadata += Self.checksumHeaders(headers)
        return StoredObject(
            chunks: chunks, size: size, etag: etag,
            contentType: headers["content-type"].first ?? "binary/octet-stream",
            lastModified: serverStartHTTPDate, metadata: metadata
        )
    }

    /// The object checksum a PUT or a CompleteMultipartUpload carried (kept as sent, not
    /// verified: this server measures clients), returned like metadata, so a client that
    /// checks checksums does its work here too.
    static func checksumHeaders(_ headers: HTTPHeaders) -> [(String, String)] {
        headers.compactMap { name, value in
            let lower = name.lowercased()
            guard lower.hasPrefix("x-amz-checksum-"), lower != "x-amz-checksum-mode", lower != "x-amz-checksum-algorithm" else { return nil }
            return (lower, value)
        }
    }

    private func getObject(_ request: Request, bucket: String, key: String) throws -> Response {
        guard let found = store.object(bucket, key: key) else { throw S3Failure.noSuchBucket }
        guard let object = found else {
            if request.head.method == .HEAD { return Response(status: .notFound) }
            throw S3Failure.noSuchKey
        }
        var headers: HTTPHeaders = [
            "ETag": "\"\(object.etag)\"", "Last-Modified": object.lastModified,
            "Content-Type": object.contentType, "Accept-Ranges": "bytes",
        ]
        // Checksums as S3 returns them: asked for (x-amz-checksum-mode: ENABLED), and not on a ranged GET.
        let withChecksum = request.head.headers["x-amz-checksum-mode"].first == "ENABLED" && request.head.headers["range"].isEmpty
        for (name, value) in object.metadata where withChecksum || !name.hasPrefix("x-amz-checksum-") { headers.add(name: name, value: value) }
        if let condition = request.head.headers["if-match"].first,
           condition != "*", condition.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) != object.etag {
            throw S3Failure(.preconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
        }
        guard let rangeHeader = request.head.headers["range"].first else {
            return Response(headers: headers, body: object.slices(0...max(0, object.size - 1)), contentLength: object.size)
        }
        guard let range = parseRange(rangeHeader, size: object.size) else {
            headers.replaceOrAdd(name: "Content-Range", value: "bytes */\(object.size)")
            throw S3Failure(.rangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable", headers: headers)
        }
        headers.add(name: "Content-Range", value: "bytes \(range.lowerBound)-\(range.upperBound)/\(object.size)")
        return Response(status: .partialContent, headers: headers, body: object.slices(range), contentLength: range.count)
    }

    private func parseRange(_ header: String, size: Int) -> ClosedRange<Int>? {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return nil }
        let spec = header.dropFirst(6)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        if parts[0].isEmpty {
            guard let suffix = Int(parts[1]), suffix > 0, size > 0 else { return nil }
            return max(0, size - suffix)...(size - 1)
        }
        guard let start = Int(parts[0]), start < size else { return nil }
        let end = parts[1].isEmpty ? size - 1 : min(Int(parts[1]) ?? -1, size - 1)
        guard end >= start else { return nil }
        return start...end
    }

    // MARK: Multipart

    private func uploadPart(_ request: Request, bucket: String, uploadID: String, number: Int) throws -> Response {
        guard (1...10_000).contains(number) else { throw S3Failure(.badRequest, "InvalidArgument", "Part number must be 1-10000") }
        let part = storedObject(request)
        let found = store.withBucket(bucket) { b -> Bool in
            guard b.uploads[uploadID] != nil else { return false }
            b.uploads[uploadID]!.parts[number] = part
            return true
        }
        guard let found else { throw S3Failure.noSuchBucket }
        guard found else { throw S3Failure.noSuchUpload }
        return Response(headers: ["ETag": "\"\(part.etag)\""])
    }

    private func listParts(bucket: String, key: String, uploadID: String) throws -> Response {
        guard let found = store.withBucket(bucket, { $0.uploads[uploadID] }) else { throw S3Failure.noSuchBucket }
        guard let upload = found else { throw S3Failure.noSuchUpload }
        var xml = "<ListPartsResult><Bucket>\(xmlEscape(bucket))</Bucket><Key>\(xmlEscape(key))</Key><UploadId>\(uploadID)</UploadId><IsTruncated>false</IsTruncated>"
        for (number, part) in upload.parts.sorted(by: { $0.key < $1.key }) {
            xml += "<Part><PartNumber>\(number)</PartNumber><ETag>\"\(part.etag)\"</ETag><Size>\(part.size)</Size><LastModified>\(serverStartISODate)</LastModified></Part>"
        }
        return .xml(xml + "</ListPartsResult>")
    }

    private func completeUpload(_ request: Request, bucket: String, key: String, uploadID: String) throws -> Response {
        let numbers = xmlValues(of: "PartNumber", in: request.bodyString).compactMap { Int($0) }
        guard let found = store.withBucket(bucket, { $0.uploads[uploadID] }) else { throw S3Failure.noSuchBucket }
        guard let upload = found else { throw S3Failure.noSuchUpload }
        guard !numbers.isEmpty, numbers == numbers.sorted(), Set(numbers).count == numbers.count else {
            throw S3Failure(.badRequest, "InvalidPartOrder", "The list of parts was not in ascending order")
        }
        var chunks: [ByteBuffer] = [], size = 0, digests: [UInt8] = []
        for number in numbers {
            guard let part = upload.parts[number] else { throw S3Failure(.badRequest, "InvalidPart", "Part \(number) was not uploaded") }
            chunks += part.chunks
            size += part.size
            digests += hexBytes(part.etag)
        }
        let etag = Digest.hex(Digest.md5(digests)) + "-\(numbers.count)"
        let object = StoredObject(chunks: chunks, size: size, etag: etag, contentType: upload.contentType, lastModified: serverStartHTTPDate,
                                  metadata: Self.checksumHeaders(request.head.headers))
        _ = store.withBucket(bucket) { b in
            b.uploads[uploadID] = nil
            if b.objects.updateValue(object, forKey: key) == nil { b.sortedKeys = nil }
        }
        return .xml("<CompleteMultipartUploadResult><Bucket>\(xmlEscape(bucket))</Bucket><Key>\(xmlEscape(key))</Key><ETag>\"\(etag)\"</ETag></CompleteMultipartUploadResult>")
    }

    // MARK: Bucket listings and batches

    private func listObjects(bucket: String, query q: [String: String]) throws -> Response {
        let prefix = q["prefix"] ?? "", delimiter = q["delimiter"] ?? ""
        let maxKeys = min(max(Int(q["max-keys"] ?? "") ?? 1000, 0), 1000)
        let after = q["continuation-token"] ?? q["start-after"] ?? q["marker"] ?? ""
        let urlEncoded = q["encoding-type"] == "url"
        let isV2 = q["list-type"] == "2"
        guard let keysAndObjects = store.withBucket(bucket, { b -> [(String, StoredObject)] in
            let keys = b.keysInOrder()
            var lo = 0, hi = keys.count
            while lo < hi {  // first key after `after`, and at or after `prefix`
                let mid = (lo + hi) / 2
                if keys[mid] <= after || keys[mid] < prefix { lo = mid + 1 } else { hi = mid }
            }
            var out: [(String, StoredObject)] = []
            var i = lo
            // One page and one more (to know it is truncated); with a delimiter, more, since
            // many keys can fold into one common prefix.
            let gather = delimiter.isEmpty ? maxKeys + 1 : maxKeys * 64 + 1
            while i < keys.count, keys[i].hasPrefix(prefix), out.count < gather {
                out.append((keys[i], b.objects[keys[i]]!))
                i += 1
            }
            return out
        }) else { throw S3Failure.noSuchBucket }
        let enc = { (s: String) in urlEncoded ? xmlEscape(urlEncode(s)) : xmlEscape(s) }
        var contents = "", prefixes: [String] = [], count = 0, lastReturned = "", truncated = false
        for (key, object) in keysAndObjects {
            if count == maxKeys { truncated = true; break }
            if !delimiter.isEmpty, let r = key.dropFirst(prefix.count).range(of: delimiter) {
                let common = String(key[..<r.upperBound])
                if prefixes.last == common { continue }
                prefixes.append(common)
                lastReturned = common + "\u{10FFFF}"
            } else {
                contents += "<Contents><Key>\(enc(key))</Key><LastModified>\(serverStartISODate)</LastModified><ETag>&quot;\(object.etag)&quot;</ETag><Size>\(object.size)</Size><StorageClass>STANDARD</StorageClass></Contents>"
                lastReturned = key
            }
            count += 1
        }
        var xml = "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>\(xmlEscape(bucket))</Name><Prefix>\(enc(prefix))</Prefix>"
        xml += "<MaxKeys>\(maxKeys)</MaxKeys><IsTruncated>\(truncated)</IsTruncated>"
        if !delimiter.isEmpty { xml += "<Delimiter>\(enc(delimiter))</Delimiter>" }
        if urlEncoded { xml += "<EncodingType>url</EncodingType>" }
        if isV2 {
            xml += "<KeyCount>\(count)</KeyCount>"
            if let token = q["continuation-token"] { xml += "<ContinuationToken>\(xmlEscape(token))</ContinuationToken>" }
            if truncated { xml += "<NextContinuationToken>\(xmlEscape(lastReturned))</NextContinuationToken>" }
        } else if truncated {
            xml += "<NextMarker>\(enc(lastReturned))</NextMarker>"
        }
        xml += contents
        for p in prefixes { xml += "<CommonPrefixes><Prefix>\(enc(p))</Prefix></CommonPrefixes>" }
        return .xml(xml + "</ListBucketResult>")
    }

    private func deleteObjects(_ request: Request, bucket: String) throws -> Response {
        let text = request.bodyString
        let keys = xmlValues(of: "Key", in: text).map(xmlUnescape)
        let quiet = text.contains("<Quiet>true</Quiet>")
        guard store.withBucket(bucket, { (b: ObjectStore.Bucket) -> Void in
            for key in keys where b.objects.removeValue(forKey: key) != nil { b.sortedKeys = nil }
        }) != nil else { throw S3Failure.noSuchBucket }
        var xml = "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        if !quiet { for key in keys { xml += "<Deleted><Key>\(xmlEscape(key))</Key></Deleted>" } }
        return .xml(xml + "</DeleteResult>")
    }

    private static func listBuckets(_ names: [String]) -> String {
        var xml = "<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>bench</ID><DisplayName>bench</DisplayName></Owner><Buckets>"
        for name in names { xml += "<Bucket><Name>\(xmlEscape(name))</Name><CreationDate>\(serverStartISODate)</CreationDate></Bucket>" }
        return xml + "</Buckets></ListAllMyBucketsResult>"
    }
}

// MARK: - Request and response values

struct Request {
    var head: HTTPRequestHead
    var body: [ByteBuffer]
    var bodySize: Int

    var pathAndQuery: (path: Substring, query: Substring) {
        let uri = head.uri[...]
        guard let q = uri.firstIndex(of: "?") else { return (uri, "") }
        return (uri[..<q], uri[uri.index(after: q)...])
    }

    /// Path-style addressing: `/bucket/key`.
    var bucketAndKey: (String?, String?) {
        let path = pathAndQuery.path.dropFirst()
        guard !path.isEmpty else { return (nil, nil) }
        guard let slash = path.firstIndex(of: "/") else { return (percentDecode(path), nil) }
        let key = path[path.index(after: slash)...]
        return (percentDecode(path[..<slash]), key.isEmpty ? nil : percentDecode(key))
    }

    var query: [String: String] {
        var out: [String: String] = [:]
        for pair in pathAndQuery.query.split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            out[percentDecode(kv[0])] = kv.count > 1 ? percentDecode(kv[1]) : ""
        }
        return out
    }

    var bodyString: String {
        var all = ByteBuffer()
        for var chunk in body { all.writeBuffer(&chunk) }
        return all.readString(length: all.readableBytes) ?? ""
    }
}

struct Response {
    var status: HTTPResponseStatus = .ok
    var headers: HTTPHeaders = [:]
    var body: [ByteBuffer] = []
    var contentLength = 0

    static func xml(_ text: String, status: HTTPResponseStatus = .ok) -> Response {
        let buffer = ByteBuffer(string: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + text)
        return Response(status: status, headers: ["Content-Type": "application/xml"], body: [buffer], contentLength: buffer.readableBytes)
    }

    static func error(_ failure: S3Failure) -> Response {
        var response = xml("<Error><Code>\(failure.code)</Code><Message>\(xmlEscape(failure.message))</Message><RequestId>bench</RequestId></Error>", status: failure.status)
        for (name, value) in failure.headers where name.lowercased() == "content-range" { response.headers.add(name: name, value: value) }
        return response
    }
}

struct S3Failure: Error {
    var status: HTTPResponseStatus
    var code: String
    var message: String
    var headers: HTTPHeaders = [:]

    init(_ status: HTTPResponseStatus, _ code: String, _ message: String, headers: HTTPHeaders = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    static let noSuchBucket = S3Failure(.notFound, "NoSuchBucket", "The specified bucket does not exist")
    static let noSuchKey = S3Failure(.notFound, "NoSuchKey", "The specified key does not exist.")
    static let noSuchUpload = S3Failure(.notFound, "NoSuchUpload", "The specified upload does not exist")
    static let notImplemented = S3Failure(.notImplemented, "NotImplemented", "The benchmark server does not implement this operation")
}
