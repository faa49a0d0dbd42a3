import Benchmark
import InMemoryTracing
import Logging
import MetricsTestKit
@_spi(Fuzzing) @_spi(Benchmarking) import S3
import S3Signing
import Tracing

let signer = SigV4Signer(
    credentials: SigV4Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    region: "us-east-1")
let time = SigV4Timestamp(secondsSince1970: 1_369_353_600)

/// A ListObjectsV2 page of 1,000 keys, shaped like S3's (about 230 KB).
let listPage: [UInt8] = {
    var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bucket</Name><Prefix></Prefix><KeyCount>1000</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
    for i in 0..<1000 {
        s += "<Contents><Key>photos/2024/\(i)/image-\(i).jpg</Key><LastModified>2024-05-01T12:34:56.000Z</LastModified><ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm><Size>\(1000 + i)</Size><Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>owner</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>"
    }
    s += "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken></ListBucketResult>"
    return Array(s.utf8)
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration.maxDuration = .seconds(3)
    Benchmark.defaultConfiguration.metrics = [.wallClock, .cpuTotal, .mallocCountTotal, .throughput]

    Benchmark("SigV4 sign GET (cached key)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            var r = SigV4Request(method: "GET", path: "/bucket/photos/2024/image.jpg",
                                 headers: [("host", "127.0.0.1:9000"), ("range", "bytes=0-1023")],
                                 payloadHash: Digest.emptySHA256Hex)
            blackHole(signer.sign(&r, at: time))
        }
    }

    Benchmark("SigV4 presign GET URL", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            let r = SigV4Request(method: "GET", path: "/bucket/photos/2024/image.jpg", headers: [("host", "127.0.0.1:9000")],
                                 payloadHash: SigV4Payload.unsigned)
            blackHole(try signer.presignedQuery(for: r, expiresIn: 3600, at: time))
        }
    }

    // What credentials, logs, metrics and spans add to each request, without the request (a
    // sequential small GET costs about 150 µs of CPU in all; see scripts/bench-observability).
    let endpoint = "http://127.0.0.1:9"  // nothing is sent
    let credentials = S3Credentials(accessKeyID: "AKID", secretAccessKey: "secret")
    Benchmark("Per-request overhead: credentials + logs + metrics + spans, no backend",
              configuration: .init(scalingFactor: .kilo)) { benchmark in
        let client = S3Client(configuration: try S3Configuration(endpoint: endpoint, credentials: credentials))
        benchmark.startMeasurement()
        try await client.measureRequestOverhead(benchmark.scaledIterations.count)
    }
    Benchmark("Per-request overhead: the same with backends (debug logger dropping lines, TestMetrics, InMemoryTracer)",
              configuration: .init(scalingFactor: .kilo)) { benchmark in
        var configuration = try S3Configuration(endpoint: endpoint, credentials: credentials)
        var logger = Logger(label: "bench") { _ in DroppingLogHandler() }
        logger.logLevel = .debug
        configuration.logger = logger
        configuration.metricsFactory = TestMetrics()
        let client = S3Client(configuration: configuration)
        let tracer = InMemoryTracer()
        benchmark.startMeasurement()
        try await withTracer(tracer) { try await client.measureRequestOverhead(benchmark.scaledIterations.count) }
    }

    Benchmark("Parse and decode a ListObjectsV2 page (1,000 keys)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try S3ResponseFuzzing.decodeListPage(listPage))
        }
    }

    Benchmark("Parse and decode a ListObjectsV2 page (1,000 keys) via the tree") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try S3ResponseFuzzing.decodeListPageViaTree(listPage))
        }
    }
}

/// A log handler at debug level that drops every line (the library still builds each line).
struct DroppingLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {}
}
