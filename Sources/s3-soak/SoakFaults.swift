import Foundation
import S3TestSupport

/// The faults of issue 27, struck in turn on the cluster of scripts/cluster-lib.sh through
/// scripts/cluster-ctl, each on the next part of its kind.
enum SoakFault: String, CaseIterable, Sendable {
    /// `kill -9` of a volume server, started again 10 s later.
    case killVolumeServer = "kill -9 of a volume server"
    /// `kill -9` of an S3 gateway, started again at once.
    case restartGateway = "restart of an S3 gateway"
    /// SIGSTOP of an S3 gateway for 10 s.
    case pauseGateway = "SIGSTOP of an S3 gateway for 10 s"
    /// A volume server's disk full for 10 s.
    case fullDisk = "a volume server's disk full for 10 s"
}

/// One fault as it happened: when it struck and when the part was whole again, in seconds
/// since the soak started.
struct FaultEvent: Sendable, Codable {
    var fault: String
    var part: String
    var struck: Double
    var healed: Double
    var error: String?
}

/// Strikes the cluster's parts through `cluster-ctl`.
struct ClusterControl: Sendable {
    let ctl: String
    let directory: String

    func act(_ part: String, _ action: String, _ argument: String? = nil) async throws {
        let (status, errors) = try await spawnAndWait(ctl, [directory, part, action] + (argument.map { [$0] } ?? []))
        guard status == 0 else {
            throw SoakFailure("cluster-ctl \(part) \(action) exited \(status): \(errors.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// Every part whole again: volume servers started, gateways resumed, disks their size,
    /// and the balancer's memory of failures forgotten.
    func healAll() async throws {
        for v in ["volume1", "volume2", "volume3"] {
            try await act(v, "start")
            try? await act(v, "unfill")  // exit 3: no disk of its own here, nothing to heal
        }
        for g in ["s3gw1", "s3gw2"] {
            try await act(g, "cont")
            try await act(g, "wait")
        }
        try await act("nginx", "reload")
    }

    /// Strikes a fault every `interval`, the first after `interval / 2`, until `stop`; each
    /// fault that holds (a killed volume server, a full disk) is healed `hold` later.
    func strikeInTurn(every interval: Duration, hold: Duration, start: ContinuousClock.Instant, until stop: StopFlag,
                      log: @Sendable (String) -> Void) async -> [FaultEvent] {
        var events: [FaultEvent] = []
        var round = 0
        var next = start.advanced(by: interval / 2)
        func now() -> Double {
            let t = ContinuousClock.now - start
            return Double(t.components.seconds) + Double(t.components.attoseconds) * 1e-18
        }
        while !stop.isRaised {
            // Sleep in short steps, so the end of the workload is not kept waiting.
            while ContinuousClock.now < next && !stop.isRaised { try? await Task.sleep(for: .milliseconds(200)) }
            if stop.isRaised { break }
            let fault = SoakFault.allCases[round % SoakFault.allCases.count]
            let turn = round / SoakFault.allCases.count
            let part: String = switch fault {
            case .killVolumeServer, .fullDisk: "volume\(turn % 3 + 1)"
            case .restartGateway, .pauseGateway: "s3gw\(turn % 2 + 1)"
            }
            round += 1
            next = next.advanced(by: interval)
            let struck = now()
            log(String(format: "%7.1f s  %@ (%@)", struck, fault.rawValue, part))
            var failure: String?
            do {
                switch fault {
                case .killVolumeServer:
                    try await act(part, "kill")
                    try await Task.sleep(for: hold)
                    try await act(part, "start")
                case .restartGateway:
                    try await act(part, "restart")
                case .pauseGateway:
                    try await act(part, "stop")
                    try await Task.sleep(for: .seconds(10))
                    try await act(part, "cont")
                    try await act(part, "wait")
                case .fullDisk:
                    try await act(part, "fill")
                    try await Task.sleep(for: hold)
                    try await act(part, "unfill")
                }
            } catch {
                failure = "\(error)"
                log("fault \(fault.rawValue) on \(part): \(error)")
            }
            events.append(FaultEvent(fault: fault.rawValue, part: part, struck: struck, healed: now(), error: failure))
        }
        return events
    }
}

/// The soak could not run as planned (a harness failure, not a finding about the client).
struct SoakFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
