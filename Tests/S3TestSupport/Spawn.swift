import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A helper program that could not be started (see ``spawnAndWait(_:_:)``).
public struct SpawnFailed: Error, CustomStringConvertible {
    public let path: String
    public let errorNumber: Int32
    public var description: String { "could not start \(path): error \(errorNumber)" }
}

/// Runs `path` with `arguments` (standard output discarded, standard error kept) and waits
/// for it on a thread of its own, off the cooperative pool: its exit status (128 + the signal
/// when a signal ended it) and its standard error.
///
/// Not Foundation's `Process`: its `waitUntilExit` hung here now and then on this toolchain
/// once the program had exited (seen with `cluster-ctl start`, whose child outlives it: the
/// exited program stayed a zombie, never reaped), and a blocked `waitUntilExit` holds one of
/// the two threads of the cooperative pool.
public func spawnAndWait(_ path: String, _ arguments: [String]) async throws -> (status: Int32, errors: String) {
    let errorsFile = FileManager.default.temporaryDirectory.appendingPathComponent("spawn-\(UUID().uuidString).err")
    defer { try? FileManager.default.removeItem(at: errorsFile) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, errorsFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
    guard spawned == 0 else { throw SpawnFailed(path: path, errorNumber: spawned) }
    let child = pid
    let status: Int32 = await withCheckedContinuation { continuation in
        let waiter = Thread {
            var raw: Int32 = 0
            while waitpid(child, &raw, 0) < 0 && errno == EINTR {}
            // WIFEXITED / WEXITSTATUS, which Swift does not import: exited normally when the low
            // seven bits are zero, with its status in the next eight; a signal otherwise.
            continuation.resume(returning: raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f))
        }
        waiter.start()
    }
    let errors = (try? String(contentsOf: errorsFile, encoding: .utf8)) ?? ""
    return (status, errors)
}
