import Foundation

/// Credentials printed by a command: a profile's `credential_process`. The command runs
/// through `/bin/sh -c` and must print the JSON document the AWS CLI specifies
/// (`Version: 1`, `AccessKeyId`, `SecretAccessKey`, optional `SessionToken` and
/// `Expiration`) and exit 0. Its standard error is not captured.
public struct S3ProcessCredentialProvider: S3CredentialProvider, CustomStringConvertible, CustomReflectable {
    /// The command line.
    public let command: String
    /// How long the command may run, in seconds.
    public var timeoutSeconds: Double = 60

    /// A provider running `command`.
    public init(command: String) { self.command = command }

    public func credentials(context: S3CredentialContext) async throws -> S3ResolvedCredentials {
        context.logger.debug("running credential_process")
        let (status, output) = try await Self.run(command, timeout: timeoutSeconds)
        guard status == 0 else { throw S3Error.credentials("credential_process exited with status \(status)") }
        if let object = try? JSONSerialization.jsonObject(with: Data(output)) as? [String: Any], let version = object["Version"] as? Int,
           version != 1 {
            throw S3Error.credentials("credential_process printed Version \(version); only 1 is known")
        }
        return try CredentialEndpoints.parseJSONCredentials(output, source: "credential_process")
    }

    /// Runs `command` on a thread of its own (it blocks while the command runs), returning its
    /// exit status and standard output (at most 1 MiB).
    private static func run(_ command: String, timeout: Double) async throws -> (Int32, [UInt8]) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/sh")
                process.arguments = ["-c", command]
                let pipe = Pipe()
                process.standardOutput = pipe
                process.standardInput = FileHandle.nullDevice
                do { try process.run() } catch {
                    continuation.resume(throwing: S3Error.credentials("credential_process could not be started"))
                    return
                }
                let killer = DispatchWorkItem { if process.isRunning { process.terminate() } }
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                killer.cancel()
                if process.terminationReason == .uncaughtSignal {
                    continuation.resume(throwing: S3Error.credentials("credential_process was stopped (signal \(process.terminationStatus); "
                                                                      + "time limit \(Int(timeout)) s)"))
                    return
                }
                continuation.resume(returning: (process.terminationStatus, Array(data.prefix(1 << 20))))
            }
        }
    }

    /// The command line may hold a secret: never shown.
    public var description: String { "S3ProcessCredentialProvider(command: <redacted>)" }

    /// `dump()` and `Mirror` show no command line.
    public var customMirror: Mirror { Mirror(self, children: ["command": "<redacted>", "timeoutSeconds": timeoutSeconds], displayStyle: .struct) }
}
