// Times our engine on the workloads scripts/bench also gives curl, printing one line of
// "wall_seconds cpu_seconds bytes" so the script can compare both in the same run.
//   transport-compare get URL            one GET, body discarded
//   transport-compare small URL COUNT    COUNT sequential GETs on one reused connection
import Foundation
import S3HTTP

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return s(usage.ru_utime) + s(usage.ru_stime)
}

let args = CommandLine.arguments
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: transport-compare get URL | small URL COUNT\n".utf8))
    exit(2)
}
let engine = HTTPEngine()
let clock = ContinuousClock()
let cpu0 = cpuSeconds()
let t0 = clock.now
var bytes = 0
switch args[1] {
case "get":
    let r = try await engine.execute(HTTPRequest(method: "GET", url: args[2]))
    for try await chunk in r.body { bytes += chunk.count }
case "small":
    let count = Int(args[3]) ?? 1000
    for _ in 0..<count {
        let r = try await engine.execute(HTTPRequest(method: "GET", url: args[2]))
        for try await chunk in r.body { bytes += chunk.count }
    }
default:
    exit(2)
}
let wall = clock.now - t0
let seconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
print(String(format: "%.4f %.4f %d", seconds, cpuSeconds() - cpu0, bytes))
