// Peak resident memory of one large transfer, for scripts/bench-memory:
//   transfer-memory ENDPOINT upload BUCKET KEY FILE [PART_MIB CONCURRENCY]
//   transfer-memory ENDPOINT download BUCKET KEY TARGET [PART_MIB CONCURRENCY]
// Prints: "<op> <bytes> bytes in <seconds> s, peak RSS <MiB> MiB (VmHWM)".
import Foundation
import S3

func peakRSSMiB() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Double(line.split(separator: " ").compactMap { Int($0) }.first ?? 0) / 1024
    }
    return 0
}

let a = CommandLine.arguments
guard a.count >= 6 else {
    FileHandle.standardError.write(Data("usage: transfer-memory ENDPOINT upload|download BUCKET KEY PATH [PART_MIB CONCURRENCY]\n".utf8))
    exit(2)
}
let partMiB = a.count > 6 ? Int(a[6]) ?? 8 : 8
let concurrency = a.count > 7 ? Int(a[7]) ?? 8 : 8
let client = S3Client(configuration: try S3Configuration(
    endpoint: a[1], credentials: S3Credentials(accessKeyID: "bench", secretAccessKey: "bench-secret"), addressingStyle: .path))
let bucket = S3Bucket.unchecked(name: a[3], client: client)
let options = S3TransferOptions(partSize: partMiB << 20, concurrency: concurrency)
let clock = ContinuousClock()
let t0 = clock.now
var bytes: Int64 = 0
switch a[2] {
case "upload":
    try await bucket.uploadObject(key: a[4], file: URL(fileURLWithPath: a[5]), options: options)
    bytes = Int64((try FileManager.default.attributesOfItem(atPath: a[5])[.size] as? Int) ?? 0)
case "download":
    try await bucket.downloadObject(key: a[4], to: URL(fileURLWithPath: a[5]), options: options)
    bytes = Int64((try FileManager.default.attributesOfItem(atPath: a[5])[.size] as? Int) ?? 0)
default:
    exit(2)
}
let d = clock.now - t0
let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
print(String(format: "%@ %lld bytes in %.2f s, peak RSS %.1f MiB (VmHWM), parts %d MiB x %d in flight", a[2], bytes, seconds, peakRSSMiB(), partMiB, concurrency))
