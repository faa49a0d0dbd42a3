// Our side of the peer comparison (Benchmarks/compare): each workload as a user of the
// library would write it. The harness times the process (wall, CPU, peak RSS); this prints
// what it moved, "<objects> <bytes>", so the harness can check nothing was skipped.
//
//   s3-bench-client ENDPOINT download-file   BUCKET KEY PATH  PART_MIB CONCURRENCY
//   s3-bench-client ENDPOINT download-memory BUCKET KEY       PART_MIB CONCURRENCY
//   s3-bench-client ENDPOINT upload          BUCKET KEY PATH  PART_MIB CONCURRENCY
//   s3-bench-client ENDPOINT put-many        BUCKET PREFIX COUNT SIZE CONCURRENCY
//   s3-bench-client ENDPOINT get-many        BUCKET PREFIX COUNT CONCURRENCY
//   s3-bench-client ENDPOINT list            BUCKET PREFIX
//   s3-bench-client ENDPOINT copy            BUCKET SOURCE TARGET PART_MIB CONCURRENCY THRESHOLD_MIB
//   s3-bench-client ENDPOINT latency         BUCKET PREFIX COUNT SIZE CONCURRENCY
//     (COUNT PUTs of SIZE bytes, then COUNT GETs of them, CONCURRENCY at a time; prints the
//     p50 and p99 of each in microseconds before "<objects> <bytes>":
//     "PUT_P50 PUT_P99 GET_P50 GET_P99 OBJECTS BYTES")
// BENCH_KEY / BENCH_SECRET in the environment replace the key pair (bench / bench-secret).
// AWS_CA_BUNDLE names the CA to trust for an https ENDPOINT.
// With BENCH_PAYLOAD=crc32c in the environment, uploads use S3PayloadProtection.checksumOnly (CRC-32C).
// With BENCH_OBSERVE=1, the client logs at debug level into a handler that drops the lines and
// counts into an in-memory metrics factory: the cost of observability with backends.
import Foundation
import S3
import Synchronization

let a = CommandLine.arguments
func arg(_ i: Int) -> String {
    guard i < a.count else {
        FileHandle.standardError.write(Data("s3-bench-client: missing argument \(i); see the usage at the top of main.swift\n".utf8))
        exit(64)
    }
    return a[i]
}
func int(_ i: Int) -> Int { Int(arg(i)) ?? { FileHandle.standardError.write(Data("not a number: \(arg(i))\n".utf8)); exit(64) }() }

let environment = ProcessInfo.processInfo.environment
var configuration = try S3Configuration(
    endpoint: arg(1), credentials: S3Credentials(accessKeyID: environment["BENCH_KEY"] ?? "bench",
                                                 secretAccessKey: environment["BENCH_SECRET"] ?? "bench-secret"),
    addressingStyle: .path)
// BENCH_PAYLOAD=crc32c: unsigned payloads with a CRC-32C header instead of a signed SHA-256.
if ProcessInfo.processInfo.environment["BENCH_PAYLOAD"] == "crc32c" { configuration.payloadProtection = .checksumOnly; configuration.allowsUnsignedPayloadOverHTTP = true }
// BENCH_RECV_BUFFER=BYTES: libcurl's receive buffer (CURLOPT_BUFFERSIZE), for sweeps.
if let size = environment["BENCH_RECV_BUFFER"].flatMap({ Int($0) }) { configuration.http.receiveBufferSize = size }
// AWS_CA_BUNDLE=PATH: trust that CA for an https endpoint (verification stays on), as the peers are told.
if let ca = environment["AWS_CA_BUNDLE"], !ca.isEmpty { configuration.http.tls.caBundlePath = ca }
// BENCH_DIRECT=0: every request through curl (no direct receive of plain-HTTP ranges), for A/B runs.
if environment["BENCH_DIRECT"] == "0" { configuration.http.receivesDirectly = false }
if ProcessInfo.processInfo.environment["BENCH_OBSERVE"] == "1" { BenchObservability.install(&configuration) }
let client = S3Client(configuration: configuration)
let bucket = S3Bucket.unchecked(name: arg(3), client: client)
var objects = 0, bytes = 0

/// Runs `work(i)` for i in 0..<count with at most `width` running at once.
func forEach(_ count: Int, width: Int, _ work: @escaping @Sendable (Int) async throws -> Int) async throws -> Int {
    try await withThrowingTaskGroup(of: Int.self) { group in
        var next = 0, total = 0
        while next < min(width, count) { let i = next; group.addTask { try await work(i) }; next += 1 }
        while let n = try await group.next() {
            total += n
            if next < count { let i = next; group.addTask { try await work(i) }; next += 1 }
        }
        return total
    }
}

func key(_ prefix: String, _ i: Int) -> String { prefix + String(format: "%06d", i) }

switch arg(2) {
case "download-file":
    let path = URL(fileURLWithPath: arg(5))
    try await bucket.downloadObject(key: arg(4), to: path, options: S3TransferOptions(partSize: int(6) << 20, concurrency: int(7)))
    objects = 1
    bytes = (try FileManager.default.attributesOfItem(atPath: path.path)[.size] as? Int) ?? 0
case "download-memory":
    for try await chunk in bucket.downloadStream(key: arg(4), options: S3TransferOptions(partSize: int(5) << 20, concurrency: int(6))) {
        bytes += chunk.count
    }
    objects = 1
case "upload":
    let path = URL(fileURLWithPath: arg(5))
    try await bucket.uploadObject(key: arg(4), file: path, options: S3TransferOptions(partSize: int(6) << 20, concurrency: int(7)))
    objects = 1
    bytes = (try FileManager.default.attributesOfItem(atPath: path.path)[.size] as? Int) ?? 0
case "put-many":
    let prefix = arg(4), count = int(5), body = [UInt8](repeating: 0x61, count: int(6))
    bytes = try await forEach(count, width: int(7)) { i in
        try await bucket.putObject(key: key(prefix, i), body: body)
        return body.count
    }
    objects = count
case "get-many":
    let prefix = arg(4), count = int(5)
    bytes = try await forEach(count, width: int(6)) { i in
        let received = Atomic<Int>(0)
        try await bucket.downloadObject(key: key(prefix, i)) { received.add($0.count, ordering: .relaxed) }
        return received.load(ordering: .relaxed)
    }
    objects = count
case "copy":
    var options = S3TransferOptions(concurrency: int(7))
    options.copyPartSize = int(6) << 20
    options.copyThreshold = Int64(int(8)) << 20
    try await bucket.copyObject(from: arg(4), to: arg(5), options: options)
    objects = 1
    bytes = Int(try await bucket.getObject(key: arg(5)).size)
case "latency":
    // Each request timed alone, from the call to its last byte, with the clock of the process.
    let prefix = arg(4), count = int(5), body = [UInt8](repeating: 0x61, count: int(6)), width = int(7)
    let timings = Mutex<(put: [Double], get: [Double])>(([], []))
    _ = try await forEach(count, width: width) { i in
        let t0 = DispatchTime.now().uptimeNanoseconds
        try await client.putObject(bucket: arg(3), key: key(prefix, i), bytes: body)
        let t1 = DispatchTime.now().uptimeNanoseconds
        timings.withLock { $0.put.append(Double(t1 - t0) / 1_000) }
        return body.count
    }
    bytes = try await forEach(count, width: width) { i in
        let t0 = DispatchTime.now().uptimeNanoseconds
        let n = try await client.getObject(bucket: arg(3), key: key(prefix, i)).body.collect().count
        let t1 = DispatchTime.now().uptimeNanoseconds
        timings.withLock { $0.get.append(Double(t1 - t0) / 1_000) }
        return n
    }
    objects = count
    func percentile(_ xs: [Double], _ p: Double) -> Int { let s = xs.sorted(); return Int(s[min(s.count - 1, Int(Double(s.count) * p))]) }
    let (put, get) = timings.withLock { ($0.put, $0.get) }
    print(percentile(put, 0.5), percentile(put, 0.99), percentile(get, 0.5), percentile(get, 0.99), terminator: " ")
case "list":
    for try await object in bucket.findObjects(prefix: arg(4)) {
        objects += 1
        bytes += Int(try await object.size)
    }
default:
    FileHandle.standardError.write(Data("unknown workload \(arg(2))\n".utf8))
    exit(64)
}
await client.shutdown()
print(objects, bytes)
