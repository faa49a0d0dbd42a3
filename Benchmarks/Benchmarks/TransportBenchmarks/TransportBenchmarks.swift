import Benchmark
import Foundation
import S3HTTP

// Needs BENCH_NGINX_URL (scripts/bench starts nginx and sets it): serves /1g.bin and /4k.bin.
let base = ProcessInfo.processInfo.environment["BENCH_NGINX_URL"]

let benchmarks: @Sendable () -> Void = {
    guard let base else {
        print("TransportBenchmarks: BENCH_NGINX_URL is not set; run scripts/bench")
        return
    }
    let engine = HTTPEngine()
    Benchmark("GET 1 GiB from nginx into a discarding sink",
              configuration: .init(metrics: [.wallClock, .cpuTotal, .peakMemoryResident], maxDuration: .seconds(20), maxIterations: 5)) { _ in
        let r = try await engine.execute(HTTPRequest(method: "GET", url: base + "/1g.bin"))
        var n = 0
        for try await chunk in r.body { n += chunk.count }
        blackHole(n)
    }
    Benchmark("1,000 sequential 4 KiB GETs, reused connection",
              configuration: .init(metrics: [.wallClock, .cpuTotal], maxDuration: .seconds(20), maxIterations: 5)) { _ in
        for _ in 0..<1000 {
            let r = try await engine.execute(HTTPRequest(method: "GET", url: base + "/4k.bin"))
            blackHole(try await r.body.collect())
        }
    }
}
