import Foundation
import S3
import S3Signing
import S3Locking
import Synchronization

/// The bytes an object must hold: its size and SHA-256.
struct Expected: Sendable, Equatable {
    var size: Int
    var sha256: [UInt8]

    /// As the request log writes it: `SIZE SHA256-IN-HEX`.
    var logged: String { "\(size) " + sha256.map { String(format: "%02x", $0) }.joined() }

    init(size: Int, sha256: [UInt8]) {
        self.size = size
        self.sha256 = sha256
    }

    /// From ``logged``.
    init?(logged: Substring) {
        let fields = logged.split(separator: " ")
        guard fields.count == 2, let size = Int(fields[0]), fields[1].count == 64 else { return nil }
        var bytes: [UInt8] = []
        var i = fields[1].startIndex
        while i < fields[1].endIndex {
            let j = fields[1].index(i, offsetBy: 2)
            guard let b = UInt8(fields[1][i..<j], radix: 16) else { return nil }
            bytes.append(b)
            i = j
        }
        self.init(size: size, sha256: bytes)
    }
}

/// What one task knows of the keys under its own prefix (no other task writes there).
struct TaskKeys: Sendable {
    /// Keys whose last write succeeded: they must hold exactly these bytes.
    var known: [String: Expected] = [:]
    /// Keys whose last write or delete failed: each must be absent (nil) or hold one of these,
    /// whole.
    var uncertain: [String: [Expected?]] = [:]
    /// The last 16 keys deleted successfully: a listing must not show them. (Only the last few:
    /// a set of every deleted key would grow for as long as the soak runs.)
    private(set) var deleted: [String] = []
    var next = 0
    /// The last few requests made to each key above (when, what, how it ended), to explain a
    /// broken promise.
    private(set) var history: [String: [String]] = [:]
    /// What the store may still apply to each key, late: the bytes of every write that failed
    /// or took more than one attempt (an abandoned attempt may be stored after later requests,
    /// as SeaweedFS does: the test aStoppedGatewayAppliesAnAbandonedWriteAfterALaterOne), and
    /// nil for a delete that failed. Kept while the key is known or in doubt, and for the last
    /// 64 keys deleted.
    private(set) var late: [String: [Expected?]] = [:]

    mutating func mayLand(_ key: String, _ what: Expected?) {
        var l = late[key] ?? []
        guard !l.contains(what) else { return }
        l.append(what)
        if l.count > 8 { l.removeFirst() }
        late[key] = l
    }

    /// A copy of `source` holds what `source` held, which may have been a late write's bytes.
    mutating func inheritLate(_ key: String, from source: String) {
        for case let e? in late[source] ?? [] { mayLand(key, e) }
    }

    /// What a late write of `key` could explain: `found` (nil: absent) is one of its entries.
    func lateExplains(_ key: String, size found: Int?) -> Bool {
        late[key]?.contains { $0?.size == found } ?? false
    }

    /// After a late write was found: the key may hold what the tasks expected, or any late one.
    mutating func inDoubt(_ key: String) {
        let before: [Expected?] = known[key].map { [$0] } ?? uncertain[key] ?? [nil]
        known[key] = nil
        deleted.removeAll { $0 == key }
        uncertain[key] = before + (late[key] ?? []).filter { !before.contains($0) }
    }

    mutating func note(_ key: String, _ event: String) {
        history[key, default: []].append(event)
        if history[key]!.count > 8 { history[key]!.removeFirst() }
    }

    mutating func markDeleted(_ key: String) {
        known[key] = nil
        uncertain[key] = nil
        if !deleted.contains(key) { deleted.append(key) }
        if deleted.count > 16 { history[deleted.removeFirst()] = nil }
        // A late write lands seconds after its request failed: the late entries of the last 64
        // keys deleted are kept, no more (the soak's own memory must stay flat too).
        if late[key] != nil && !lateDeleted.contains(key) {
            lateDeleted.append(key)
            if lateDeleted.count > 64 {
                let old = lateDeleted.removeFirst()
                if known[old] == nil && uncertain[old] == nil && !deleted.contains(old) { late[old] = nil }
            }
        }
    }

    /// Keys deleted whose late entries are still kept (see ``markDeleted(_:)``).
    private var lateDeleted: [String] = []

    /// A key may hold one more thing (each possibility once).
    mutating func mayHold(_ key: String, _ before: [Expected?], _ more: Expected?) {
        uncertain[key] = before.contains(more) ? before : before + [more]
    }

    mutating func markWritten(_ key: String, _ expected: Expected) {
        known[key] = expected
        uncertain[key] = nil
        deleted.removeAll { $0 == key }
    }

    mutating func newKey(_ prefix: String, _ kind: String) -> String {
        next += 1
        return "\(prefix)\(kind)\(next)"
    }

    /// After a write that failed: the key may hold what it held, or the new bytes.
    mutating func writeFailed(_ key: String, _ attempted: Expected) {
        let before: [Expected?] = known[key].map { [$0] } ?? uncertain[key] ?? [nil]
        known[key] = nil
        deleted.removeAll { $0 == key }
        mayHold(key, before, attempted)
        mayLand(key, attempted)
    }
}

/// The sources of uploads: 2 MiB of random bytes in memory (small objects are slices of it,
/// at random offsets, so a stale read shows as a wrong digest) and files of 9, 24 and 64 MiB.
struct Payloads: Sendable {
    let memory: [UInt8]
    let files: [(url: URL, expected: Expected)]

    static func make(in directory: URL) throws -> Payloads {
        var rng = SystemRandomNumberGenerator()
        func random(_ n: Int) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: n)
            bytes.withUnsafeMutableBytes { raw in
                let words = raw.bindMemory(to: UInt64.self)
                for i in words.indices { words[i] = rng.next() }
            }
            return bytes
        }
        var files: [(URL, Expected)] = []
        for size in [(8 << 20) + 4_097, 24 << 20, 64 << 20] {
            let bytes = random(size)
            let url = directory.appendingPathComponent("payload-\(size).bin")
            try Data(bytes).write(to: url)
            files.append((url, Expected(size: size, sha256: Digest.sha256(bytes))))
        }
        return Payloads(memory: random(2 << 20), files: files)
    }

    /// A slice of the random bytes, 1 KiB to 1 MiB (sizes spread evenly on a log scale).
    func smallBody() -> [UInt8] {
        let size = Int(pow(2.0, Double.random(in: 10...20)))
        let offset = Int.random(in: 0...(memory.count - size))
        return Array(memory[offset..<offset + size])
    }
}

/// Lets at most `limit` holders in; a task that finds no room does something else.
final class Gate: Sendable {
    private let held: Locked<Int>
    let limit: Int
    init(_ limit: Int) {
        self.limit = limit
        held = Locked(0)
    }
    func tryEnter() -> Bool { held.withLock { h in h < limit ? { h += 1; return true }() : false } }
    func leave() { held.withLock { $0 -= 1 } }
}

/// One of the 256 tasks: mixed operations on its own prefix until `deadline`.
struct SoakTask: Sendable {
    let index: Int
    let client: S3Client
    let bucket: String
    let payloads: Payloads
    let recorder: SoakRecorder
    let largeGate: Gate
    let options: S3TransferOptions
    let scratch: URL
    let start: ContinuousClock.Instant
    let rest: QuietPoints

    var prefix: String { "t\(index)/" }

    func seconds() -> Double {
        let t = ContinuousClock.now - start
        return Double(t.components.seconds) + Double(t.components.attoseconds) * 1e-18
    }

    /// ``SoakRecorder/run(_:large:_:)``, noting in the key's history when it ran and how it
    /// ended (with the attempts it took, when more than one).
    /// A write names the bytes it meant to store (`wrote`), in the log: the final check reads
    /// them back when it finds a key whose late entries the task no longer keeps.
    func traced<T: Sendable>(_ name: String, _ key: String, _ keys: inout TaskKeys, large: Bool = false, wrote: Expected? = nil,
                             attempts: (T) -> Int = { _ in 1 }, _ body: () async throws -> T) async -> Result<T, any Error> {
        let t0 = seconds()
        let result = await recorder.run(name, large: large, body)
        let outcome: String = switch result {
        case .success(let value): attempts(value) > 1 ? "ok after \(attempts(value)) attempts" : "ok"
        case .failure(let e as S3Error): "\(e.code.rawValue) after \(e.attempts) attempts"
        case .failure(let e): "\(type(of: e))"
        }
        let event = String(format: "%.1f-%.1f s: %@, %@", t0, seconds(), name, outcome)
        keys.note(key, event)
        recorder.requests.write(key: key, "operation " + event + (wrote.map { SoakRequestLog.wroteMarker + $0.logged } ?? ""))
        return result
    }

    /// The history of `key`, for a report.
    func story(_ key: String, _ keys: TaskKeys) -> String {
        (keys.history[key] ?? []).isEmpty ? "" : " [" + keys.history[key]!.joined(separator: "; ") + "]"
    }

    func run(until deadline: ContinuousClock.Instant) async -> TaskKeys {
        var keys = TaskKeys()
        while ContinuousClock.now < deadline {
            await rest.restIfAsked()
            // Each operation in a child task of its own, as a server runs each request: a
            // task's allocator keeps the slabs of its deepest call (Swift's task allocator frees
            // them when the task ends), so 256 tasks that never end would hold the high-water
            // mark of every path they ever took, which the soak would then count as growth.
            keys = await withTaskGroup(of: TaskKeys.self) { group in
                group.addTask { [keys] in
                    var k = keys
                    await step(&k)
                    return k
                }
                return await group.next()!
            }
        }
        return keys
    }

    /// One operation, chosen at random with these weights: put 25, get 25, delete 10, list 8,
    /// copy 8, create-only pair 6, large upload-download-delete 8, multipart upload cancelled 4.
    func step(_ keys: inout TaskKeys) async {
        // Keys in doubt are deleted before new ones are made: during a fault most writes fail,
        // and each failed write of a new key leaves one more (the bookkeeping must stay bounded,
        // or the soak measures its own growth: it once grew by 19 MiB in 10 minutes so).
        if keys.uncertain.count >= 8 { return await delete(&keys) }
        var roll = Int.random(in: 0..<94)
        if roll >= 82 && !largeGate.tryEnter() { roll = Int.random(in: 0..<82) }
        switch roll {
        case 0..<25: await putSmall(&keys)
        case 25..<50: await getSmall(&keys)
        case 50..<60: await delete(&keys)
        case 60..<68: await list(&keys)
        case 68..<76: await copy(&keys)
        case 76..<82: await createOnly(&keys)
        case 82..<90:
            defer { largeGate.leave() }
            await largeRoundTrip(&keys)
        default:
            defer { largeGate.leave() }
            await cancelledMultipart(&keys)
        }
    }

    func putSmall(_ keys: inout TaskKeys) async {
        // Mostly new keys, sometimes an overwrite; at most 8 small keys a task (space is finite).
        let key = keys.known.count >= 8 || (Bool.random() && !keys.known.isEmpty) ? keys.known.keys.randomElement()! : keys.newKey(prefix, "s")
        let body = payloads.smallBody()
        let expected = Expected(size: body.count, sha256: Digest.sha256(body))
        if case .success(let r) = await traced("put", key, &keys, wrote: expected, attempts: { $0.attempts }, { try await client.putObject(bucket: bucket, key: key, bytes: body) }) {
            keys.markWritten(key, expected)
            if r.attempts > 1 { keys.mayLand(key, expected) }
            recorder.moved(body.count)
        } else {
            keys.writeFailed(key, expected)
        }
    }

    func getSmall(_ keys: inout TaskKeys) async {
        guard let (key, expected) = keys.known.randomElement() else { return await putSmall(&keys) }
        let result = await traced("get", key, &keys) { () -> (Int, [UInt8]) in
            let download = try await client.getObject(bucket: bucket, key: key)
            let digest = IncrementalDigest(.sha256)
            var count = 0
            for try await chunk in download.body {
                digest.update(chunk)
                count += chunk.count
            }
            return (count, digest.finalize())
        }
        if case .success(let (count, sha)) = result {
            recorder.moved(count)
            let got = Expected(size: count, sha256: sha)
            if got != expected {
                if keys.late[key]?.contains(got) == true {
                    recorder.lateWrite(key, "GET \(key): the \(count) bytes of a write that failed or was abandoned, not the \(expected.size) written last"
                        + story(key, keys))
                    keys.markWritten(key, got)
                } else {
                    recorder.mismatch(key, "GET \(key): \(count) bytes, expected \(expected.size), a digest of no write made to it" + story(key, keys))
                }
            }
        }
    }

    func delete(_ keys: inout TaskKeys) async {
        // Keys in doubt first: their bytes are what a failed write left.
        guard let key = keys.uncertain.keys.randomElement() ?? keys.known.keys.randomElement() else { return }
        await delete(key, &keys)
    }

    func list(_ keys: inout TaskKeys) async {
        let result = await recorder.run("list") { () -> [String: Int64] in
            var found: [String: Int64] = [:]
            var token: String?
            repeat {
                let page = try await client.listObjectsV2(bucket: bucket, prefix: prefix, maxKeys: 5, continuationToken: token)
                for o in page.objects { found[o.key] = o.size }
                token = page.isTruncated ? page.nextContinuationToken : nil
            } while token != nil
            return found
        }
        guard case .success(let found) = result else { return }
        for (key, expected) in keys.known where found[key] != Int64(expected.size) {
            let what = "listing of \(prefix): \(key) \(found[key].map { "has \($0) bytes" } ?? "is missing"), written with \(expected.size)"
            if keys.lateExplains(key, size: found[key].map { Int($0) }) {
                recorder.lateWrite(key, what + ", as a write or delete that failed or was abandoned left it" + story(key, keys))
                keys.inDoubt(key)
            } else {
                recorder.violation(key, what + story(key, keys))
            }
        }
        for key in keys.deleted where found[key] != nil {
            let what = String(format: "listing of %@ at %.1f s: %@ is there after its delete succeeded", prefix, seconds(), key)
            if keys.lateExplains(key, size: found[key].map { Int($0) }) {
                recorder.lateWrite(key, what + ", with the size of a write that failed or was abandoned" + story(key, keys))
                keys.inDoubt(key)
            } else {
                recorder.violation(key, what + story(key, keys))
            }
        }
    }

    func copy(_ keys: inout TaskKeys) async {
        guard let (source, expected) = keys.known.randomElement(), keys.known.count < 8 else { return await delete(&keys) }
        let key = keys.newKey(prefix, "c")
        recorder.requests.write(key: key, "copy of \(source)")
        let result = await traced("copy", key, &keys, wrote: expected, attempts: { $0.attempts }, {
            try await client.copyObject(sourceBucket: bucket, sourceKey: source, bucket: bucket, key: key)
        })
        keys.inheritLate(key, from: source)
        if case .success(let r) = result {
            keys.markWritten(key, expected)
            if r.attempts > 1 { keys.mayLand(key, expected) }
        } else {
            keys.writeFailed(key, expected)
        }
    }

    /// Two create-only writes of a new key: the first must win, the second must be refused,
    /// and the object must hold the first's bytes (checked by later gets and the final check).
    func createOnly(_ keys: inout TaskKeys) async {
        guard keys.known.count < 8 else { return await delete(&keys) }
        let key = keys.newKey(prefix, "x")
        let first = payloads.smallBody(), second = payloads.smallBody()
        let expected = Expected(size: first.count, sha256: Digest.sha256(first))
        guard case .success(let r) = await traced("create-only", key, &keys, wrote: expected, attempts: { $0.attempts }, {
            try await client.putObject(bucket: bucket, key: key, bytes: first, conditions: .createOnly)
        }) else {
            // A retry of a create whose first attempt was stored is refused: the object may be there.
            return keys.writeFailed(key, expected)
        }
        keys.markWritten(key, expected)
        if r.attempts > 1 { keys.mayLand(key, expected) }
        let again = await traced("create-only refused", key, &keys) { () -> Bool in
            do {
                try await client.putObject(bucket: bucket, key: key, bytes: second, conditions: .createOnly)
                return false
            } catch let e as S3Error where e.code == .preconditionFailed {
                return true
            }
        }
        if case .success(false) = again {
            recorder.violation(key, "create-only write of \(key) replaced the object an earlier create-only write had made" + story(key, keys))
            keys.writeFailed(key, Expected(size: second.count, sha256: Digest.sha256(second)))
        }
    }

    /// A large file up (multipart above 8 MiB), down again (to a file by parallel ranges, or
    /// as a parallel ranged stream), compared, and deleted.
    func largeRoundTrip(_ keys: inout TaskKeys) async {
        let (file, expected) = payloads.files.randomElement()!
        let key = keys.newKey(prefix, "L")
        let uploaded = await traced("upload large", key, &keys, large: true, wrote: expected, attempts: { $0.attempts }, {
            try await S3Bucket.unchecked(name: bucket, client: client).uploadObject(key: key, file: file, options: options)
        })
        recorder.uploadEnded(key)
        guard case .success(let r) = uploaded else {
            keys.writeFailed(key, expected)
            return await delete(key, &keys)
        }
        keys.markWritten(key, expected)
        if r.attempts > 1 { keys.mayLand(key, expected) }
        recorder.moved(expected.size)
        let toFile = Bool.random()
        let result = await traced(toFile ? "download large to a file" : "download large as a stream", key, &keys, large: true) {
            () -> (Int, [UInt8]) in
            let bucket = S3Bucket.unchecked(name: bucket, client: client)
            let digest = IncrementalDigest(.sha256)
            var count = 0
            if toFile {
                let target = scratch.appendingPathComponent("\(index).download")
                defer { try? FileManager.default.removeItem(at: target) }
                try await bucket.downloadObject(key: key, to: target, options: options)
                let handle = try FileHandle(forReadingFrom: target)
                defer { try? handle.close() }
                while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty {
                    data.withUnsafeBytes { digest.update($0) }
                    count += data.count
                }
            } else {
                for try await chunk in bucket.downloadStream(key: key, options: options) {
                    let bytes = chunk.array
                    digest.update(bytes)
                    count += bytes.count
                }
            }
            return (count, digest.finalize())
        }
        if case .success(let (count, sha)) = result {
            recorder.moved(count)
            if count != expected.size || sha != expected.sha256 {
                recorder.mismatch(key, "download of \(key): \(count) bytes, expected \(expected.size), digest \(sha == expected.sha256 ? "equal" : "different")")
            }
        }
        await delete(key, &keys)
    }

    /// A 64 MiB multipart upload cancelled after 50 ms to 1.5 s: it must end as cancelled (or
    /// done, when it finished first), leave no multipart upload (checked at the end) and no
    /// object half-written (checked at once with a HEAD, and at the end).
    func cancelledMultipart(_ keys: inout TaskKeys) async {
        let (file, expected) = payloads.files.last!
        let key = keys.newKey(prefix, "M")
        let upload = Task { [client, bucket, options] in
            try await S3Bucket.unchecked(name: bucket, client: client).uploadObject(key: key, file: file, options: options)
        }
        let outcome = await traced("multipart upload, cancelled", key, &keys, large: true, wrote: expected) { () -> Bool in
            try await Task.sleep(for: .milliseconds(Int.random(in: 50...1_500)))
            upload.cancel()
            _ = try await upload.value
            return true
        }
        _ = await upload.result
        recorder.uploadEnded(key)
        if case .success = outcome {
            keys.markWritten(key, expected)
        } else {
            keys.uncertain[key] = [nil, expected]
            keys.mayLand(key, expected)
        }
        let head = await traced("head", key, &keys) { try await client.headObject(bucket: bucket, key: key) }
        switch head {
        case .success(let attributes) where attributes.size != Int64(expected.size):
            recorder.violation(key, "\(key) holds \(attributes.size) bytes after a cancelled upload of \(expected.size)" + story(key, keys))
        case .failure(let e as S3Error) where e.httpStatus == 404:
            if case .success = outcome { recorder.violation(key, "\(key) is missing after its upload succeeded" + story(key, keys)) }
        default: break
        }
        await delete(key, &keys)
    }

    /// Deletes `key` (large objects are deleted at once: space is finite); when the delete
    /// fails, the key may still hold what it held.
    func delete(_ key: String, _ keys: inout TaskKeys) async {
        let before = keys.known[key].map { [$0] } ?? keys.uncertain[key] ?? [nil]
        if case .success = await traced("delete", key, &keys, { try await client.deleteObject(bucket: bucket, key: key) }) {
            keys.markDeleted(key)
        } else {
            keys.known[key] = nil
            keys.mayHold(key, before, nil)
            keys.mayLand(key, nil)
        }
    }
}
