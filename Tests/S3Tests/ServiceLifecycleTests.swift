import Foundation
import Logging
import S3
import S3HTTP
import S3ServiceLifecycle
import ServiceLifecycle
import S3TestSupport
import Testing

/// A client in a swift-service-lifecycle `ServiceGroup` stops with the group.
@Suite struct ServiceLifecycleTests {
    @Test(arguments: TestServer.all) func gracefulShutdownOfTheGroupStopsTheClient(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            _ = try await client.listBuckets()
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [S3ClientService(client)],
                                                                              logger: Logger(label: "s3-tests")))
            try await within(10, "the group did not stop") {
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    try await Task.sleep(for: .milliseconds(100))
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
            }
            let e = await #expect(throws: S3Error.self) { _ = try await client.listBuckets() }
            #expect((e?.underlying as? HTTPTransportError)?.kind == .shutdown, "\(String(describing: e))")
        }
    }

    @Test func cancellingTheRunStopsTheClientToo() async throws {
        let client = try S3Client(configuration: S3Configuration(endpoint: "http://127.0.0.1:9", credentials: testCredentials))
        let run = Task { try await S3ClientService(client).run() }
        try await Task.sleep(for: .milliseconds(50))
        run.cancel()
        try await within(10, "run() did not return after cancellation") { try await run.value }
        let e = await #expect(throws: S3Error.self) { _ = try await client.listBuckets() }
        #expect((e?.underlying as? HTTPTransportError)?.kind == .shutdown, "\(String(describing: e))")
    }
}
