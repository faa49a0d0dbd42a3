import Foundation
import S3
import Testing

// The README's example, verbatim inside a function, so it is compiled and run by the suite.
func readmeExample(endpoint: String) async throws -> String {
    let client = S3Client(configuration: try S3Configuration(
        endpoint: endpoint,                      // e.g. "http://127.0.0.1:9000"
        region: "us-east-1",
        credentials: S3Credentials(accessKeyID: "key", secretAccessKey: "secret")))

    try await client.createBucket("photos")
    try await client.putObject(bucket: "photos", key: "2024/cat.txt", bytes: Array("meow".utf8),
                               contentType: "text/plain", metadata: ["owner": "ada"])

    let page = try await client.listObjectsV2(bucket: "photos", prefix: "2024/")
    for object in page.objects { print(object.key, object.size) }

    let download = try await client.getObject(bucket: "photos", key: "2024/cat.txt")
    var text = ""
    for try await chunk in download.body {       // streamed, with back-pressure
        text += String(decoding: chunk, as: UTF8.self)
    }

    do {
        _ = try await client.headObject(bucket: "photos", key: "2024/dog.txt")
    } catch let error as S3Error where error.code == .noSuchKey {
        print("no dog yet:", error.message)
    }
    return text
}

@Suite struct ReadmeExampleTests {
    @Test func theReadmeExampleRuns() async throws {
        #expect(try await readmeExample(endpoint: try motoEndpoint()) == "meow")
    }
}
