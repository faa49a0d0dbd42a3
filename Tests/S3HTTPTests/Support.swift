import Foundation
import S3HTTP
import Testing

struct MissingFixture: Error, CustomStringConvertible {
    let variable: String
    var description: String { "\(variable) is not set: run the suite with scripts/test, which starts the local test servers" }
}

/// The base URL of the HTTP fixture started by scripts/test (Tests/Fixtures/http_fixture.py).
func fixtureURL() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["S3_TEST_HTTP_URL"], !url.isEmpty else {
        throw MissingFixture(variable: "S3_TEST_HTTP_URL")
    }
    return url
}

/// Resident set size of this process, in bytes.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}

/// The fixture's byte pattern: byte i is i % 251.
func patternMatches(_ chunk: [UInt8], at offset: Int) -> Bool {
    var expected = offset % 251
    for b in chunk {
        if Int(b) != expected { return false }
        expected += 1
        if expected == 251 { expected = 0 }
    }
    return true
}

struct EchoReply: Decodable {
    let length: Int
    let sha256: String
    let chunked: Bool
    let method: String
    let content_type: String?
    let expect: String?
}

func decodeEcho(_ response: HTTPResponse) async throws -> EchoReply {
    let bytes = try await response.body.collect(upTo: 1 << 20)
    return try JSONDecoder().decode(EchoReply.self, from: Data(bytes))
}

extension ContinuousClock.Instant.Duration {
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}
