import Foundation
import S3
import Testing

struct MissingServer: Error, CustomStringConvertible {
    var description: String { "S3_TEST_ENDPOINT is not set: run the suite with scripts/test, which starts moto on 127.0.0.1" }
}

/// moto's endpoint, started by scripts/test.
func motoEndpoint() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["S3_TEST_ENDPOINT"], !url.isEmpty else { throw MissingServer() }
    return url
}

let testCredentials = S3Credentials(accessKeyID: "testing", secretAccessKey: "testing-secret")

func makeClient(style: S3Configuration.AddressingStyle = .path, region: String = "us-east-1") throws -> S3Client {
    var endpoint = try motoEndpoint()
    if style == .virtualHost { endpoint = endpoint.replacingOccurrences(of: "127.0.0.1", with: "localhost") }
    return S3Client(configuration: try S3Configuration(endpoint: endpoint, region: region, credentials: testCredentials, addressingStyle: style))
}

/// A fresh bucket name for one test.
func uniqueBucket(_ label: String = "t") -> String {
    "\(label)-\(UUID().uuidString.lowercased().prefix(18))"
}

func sha256Hex(_ bytes: [UInt8]) -> String {
    S3TestDigest.sha256Hex(bytes)
}

/// Runs a program and returns its exit status and standard output.
func run(_ executable: String, _ arguments: [String], stdin: Data? = nil) throws -> (Int32, Data) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let out = Pipe()
    p.standardOutput = out
    let input = Pipe()
    if stdin != nil { p.standardInput = input }
    try p.run()
    if let stdin {
        input.fileHandleForWriting.write(stdin)
        try input.fileHandleForWriting.close()
    }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, data)
}

struct HelperFailed: Error, CustomStringConvertible {
    let description: String
}

/// Runs Tests/Fixtures/boto3_helper.py against moto and decodes its JSON answer.
func boto3(_ arguments: [String], stdin: [UInt8]? = nil) throws -> Any {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/boto3_helper.py").path
    let (status, out) = try run("/usr/bin/env", ["python3", script, try motoEndpoint()] + arguments, stdin: stdin.map { Data($0) })
    guard status == 0 else { throw HelperFailed(description: "boto3_helper \(arguments) exited \(status)") }
    return try JSONSerialization.jsonObject(with: out, options: [.fragmentsAllowed])
}

/// The fault-injecting proxy in front of moto (Tests/Fixtures/fault_proxy.py), started by scripts/test.
func proxyEndpoint() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["S3_TEST_PROXY_ENDPOINT"], !url.isEmpty else {
        throw HelperFailed(description: "S3_TEST_PROXY_ENDPOINT is not set: run the suite with scripts/test")
    }
    return url
}

/// Sets the proxy's fault rules for one bucket (an empty list clears them).
func setFaults(bucket: String, _ rulesJSON: String) throws {
    let (status, out) = try run("/usr/bin/curl", ["-s", "-X", "PUT", "--data-binary", rulesJSON, try proxyEndpoint() + "/__faults__/" + bucket])
    guard status == 0, String(decoding: out, as: UTF8.self) == "ok" else { throw HelperFailed(description: "setting proxy faults failed") }
}

/// The requests the proxy saw for `bucket` since its faults were last set.
func proxyLog(bucket: String) throws -> [String] {
    let (status, out) = try run("/usr/bin/curl", ["-s", try proxyEndpoint() + "/__log__/" + bucket])
    guard status == 0 else { throw HelperFailed(description: "reading the proxy log failed") }
    return try JSONDecoder().decode([String].self, from: out)
}

/// Deterministic bytes for transfer tests.
func patternBytes(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13 &+ Int(seed)) }
}
