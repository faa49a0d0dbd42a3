import Foundation

extension S3Bucket {
    /// Uploads every regular file below `directory` to `prefix` + its relative path (with `/`),
    /// at most `maxObjectsInFlight` files at once, all parts sharing one limit of
    /// `options.concurrency` (so memory stays near `concurrency x partSize` whatever the number
    /// of files). `options.progress` reports the whole batch: bytes of all files, `partsDone` =
    /// files done. Returns the keys written.
    @discardableResult
    public nonisolated func uploadDirectory(_ directory: URL, prefix: String = "", options: S3TransferOptions = S3TransferOptions(),
                                            maxObjectsInFlight: Int = 16) async throws -> [String] {
        var files: [(url: URL, key: String, size: Int64)] = []
        let base = directory.standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey, .fileSizeKey]) else {
            throw S3Error.invalidArgument("cannot read the directory \(directory.path)", bucket: name)
        }
        for case let url as URL in walker {
            let values = try url.resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey])
            guard values.isRegularFile == true else { continue }
            let path = url.standardizedFileURL.path
            let relative = path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : url.lastPathComponent
            let key = prefix + relative
            try Validation.key(key, bucket: name)
            files.append((url, key, Int64(values.fileSize ?? 0)))
        }
        files.sort { $0.key < $1.key }
        let list = files
        try await runBatch(list.map { ($0.key, $0.size) }, options: options, maxObjectsInFlight: maxObjectsInFlight) { index, perObject in
            try await self.uploadObject(key: list[index].key, file: list[index].url, options: perObject)
        }
        return list.map(\.key)
    }

    /// Downloads every object under `prefix` into `directory`, keeping the rest of each key as
    /// a relative path (directories are created). Keys that would escape `directory` (`..`
    /// segments) are refused before anything is written. Limits and progress as in
    /// ``uploadDirectory(_:prefix:options:maxObjectsInFlight:)``. Returns the files written.
    @discardableResult
    public nonisolated func downloadPrefix(_ prefix: String, to directory: URL, options: S3TransferOptions = S3TransferOptions(),
                                           maxObjectsInFlight: Int = 16) async throws -> [URL] {
        var objects: [(key: String, size: Int64, target: URL)] = []
        for try await object in findObjects(prefix: prefix.isEmpty ? nil : prefix) {
            let relative = String(object.key.dropFirst(prefix.count))
            if relative.isEmpty || relative.hasSuffix("/") { continue }  // folder markers
            let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
            if relative.hasPrefix("/") || parts.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) {
                throw S3Error.invalidArgument("key \"\(object.key)\" cannot be mapped safely to a path under \(directory.path)",
                                              bucket: name, key: object.key)
            }
            objects.append((object.key, try await object.size, directory.appendingPathComponent(relative)))
        }
        try Self.refuseFileFolderClashes(objects.map { String($0.key.dropFirst(prefix.count)) }, prefix: prefix, directory: directory, bucket: name)
        for o in objects {
            try FileManager.default.createDirectory(at: o.target.deletingLastPathComponent(), withIntermediateDirectories: true)
        }
        let list = objects
        try await runBatch(list.map { ($0.key, $0.size) }, options: options, maxObjectsInFlight: maxObjectsInFlight) { index, perObject in
            // The listing told the size: an object that fits one range comes in one plain GET,
            // checked against its checksum as it streams (no HEAD beside it).
            try await Downloader(client: self.client, bucket: self.name, key: list[index].key, options: perObject, sizeHint: list[index].size)
                .download(to: list[index].target)
        }
        return list.map(\.target)
    }

    /// Refuses, before anything is written, keys that need one path to be both a file and a
    /// folder (`a` and `a/b`): S3 allows both, a file system does not.
    static func refuseFileFolderClashes(_ relatives: [String], prefix: String, directory: URL, bucket: String) throws {
        let files = Set(relatives)
        for relative in relatives {
            var end = relative.startIndex
            while let slash = relative[end...].firstIndex(of: "/") {
                let folder = String(relative[..<slash])
                if files.contains(folder) {
                    throw S3Error.invalidArgument(
                        "keys \"\(prefix + folder)\" and \"\(prefix + relative)\" would need \(directory.appendingPathComponent(folder).path) "
                            + "to be both a file and a folder; download them to different places", bucket: bucket, key: prefix + folder)
                }
                end = relative.index(after: slash)
            }
        }
    }

    /// Runs one transfer per item, `maxObjectsInFlight` at a time, with a shared limiter and
    /// one progress meter for the batch.
    private nonisolated func runBatch(_ items: [(key: String, size: Int64)], options: S3TransferOptions, maxObjectsInFlight: Int,
                                      _ transfer: @escaping @Sendable (Int, S3TransferOptions) async throws -> Void) async throws {
        let meter = ProgressMeter(total: items.reduce(0) { $0 + $1.size }, callback: options.progress)
        var perObject = options
        perObject.progress = nil
        perObject.limiter = options.limiter ?? S3TransferLimiter(permits: options.concurrency)
        perObject.parentMeter = meter
        let shared = perObject
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for index in items.indices {
                if inFlight == max(maxObjectsInFlight, 1) {
                    try await group.next()
                    inFlight -= 1
                }
                group.addTask {
                    try await transfer(index, shared)
                    meter.add(bytes: 0, partDone: true)
                }
                inFlight += 1
            }
            try await group.waitForAll()
        }
        meter.finish()
    }
}
