// A harness for perf and callgrind: runs one CPU-bound operation in a loop and prints the time
// per operation (the best of seven batches: this machine is shared and noisy).   profile-cpu sign|presign|parse|pull|pull-percentiles [ITERATIONS]
import Foundation
@_spi(Fuzzing) import S3
import S3Signing

let signer = SigV4Signer(
    credentials: SigV4Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    region: "us-east-1")
let time = SigV4Timestamp(secondsSince1970: 1_369_353_600)

func listPage() -> [UInt8] {
    var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bucket</Name><Prefix></Prefix><KeyCount>1000</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
    for i in 0..<1000 {
        s += "<Contents><Key>photos/2024/\(i)/image-\(i).jpg</Key><LastModified>2024-05-01T12:34:56.000Z</LastModified><ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm><Size>\(1000 + i)</Size><Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>owner</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>"
    }
    s += "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken></ListBucketResult>"
    return Array(s.utf8)
}

let args = CommandLine.arguments
if args.count > 1, args[1] == "pull-percentiles" {
    // One timing per parse, as package-benchmark takes them: the spread, not only the best.
    let page = listPage()
    let clock = ContinuousClock()
    var times: [Double] = []
    var sink = 0
    for _ in 0..<(args.count > 2 ? Int(args[2]) ?? 2000 : 2000) {
        let t0 = clock.now
        sink &+= try! S3ResponseFuzzing.decodeListPage(page).objects.count
        let d = clock.now - t0
        times.append(Double(d.components.attoseconds) / 1e12 + Double(d.components.seconds) * 1e6)
    }
    if ProcessInfo.processInfo.environment["SHOW_SEQUENCE"] != nil { print(times.prefix(40).map { Int($0) }) }
    times.sort()
    func p(_ q: Double) -> Double { times[min(times.count - 1, Int(Double(times.count) * q))] }
    print(String(format: "pull: p0 %.0f p25 %.0f p50 %.0f p75 %.0f p90 %.0f µs (sink %d)", p(0), p(0.25), p(0.5), p(0.75), p(0.9), sink))
    exit(0)
}
let what = args.count > 1 ? args[1] : "sign"
let n = args.count > 2 ? Int(args[2]) ?? 100_000 : 100_000
let page = listPage()
let canonicalSample = [UInt8](repeating: 65, count: 300)
var sink = 0
let clock = ContinuousClock()
var best = Double.infinity
for _ in 0..<7 {
let t0 = clock.now
for _ in 0..<n {
    switch what {
    case "sign":
        var r = SigV4Request(method: "GET", path: "/bucket/photos/2024/image.jpg",
                             headers: [("host", "127.0.0.1:9000"), ("range", "bytes=0-1023")], payloadHash: Digest.emptySHA256Hex)
        sink &+= signer.sign(&r, at: time).utf8.count
    case "presign":
        let r = SigV4Request(method: "GET", path: "/bucket/photos/2024/image.jpg", headers: [("host", "127.0.0.1:9000")],
                             payloadHash: SigV4Payload.unsigned)
        sink &+= try! signer.presignedQuery(for: r, expiresIn: 3600, at: time).count
    case "sha256-300":
        sink &+= Int(Digest.sha256(canonicalSample)[0])
    case "parse":
        sink &+= try! S3ResponseFuzzing.decodeListPageViaTree(page).objects.count
    case "pull":
        sink &+= try! S3ResponseFuzzing.decodeListPage(page).objects.count
    default:
        fatalError("unknown operation \(what)")
    }
}
let d = clock.now - t0
best = min(best, (Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9) / Double(n))
}
print(String(format: "%@: %.0f ns per operation (best of 7 batches of %d, sink %d)", what, best, n, sink))
