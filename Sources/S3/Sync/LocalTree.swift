import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One file or object on either side of a sync: its path relative to the root (with `/`),
/// size and modification time.
struct SyncEntry: Sendable, Hashable {
    var path: String
    var size: Int64
    var modified: Date?
}

/// The regular files below a directory, one at a time, in the order the store lists keys
/// (``S3KeyOrder``: UTF-8 byte order of the relative path on S3), so a local tree and a
/// listing can be merged as two sorted streams. Memory is the open directories' sorted names, never the whole tree: siblings are
/// sorted with a directory's name taken as `name/` (what its files' paths start with), then
/// walked depth first.
///
/// Symbolic links to files are followed; links to directories are not (no cycles). Names that
/// are not valid UTF-8 cannot be keys: they are reported through `skipped` and left out.
struct LocalTreeWalker {
    struct Frame {
        var directory: String            // absolute path, ends with /
        var relative: String             // relative path of the directory, "" or ends with /
        var names: [(name: String, isDirectory: Bool)]
        var index = 0
    }
    private var stack: [Frame] = []
    private(set) var skipped: [String] = []

    private var order = S3KeyOrder.bytes

    /// A walker of `root` in `order`; throws if it is not a readable directory.
    init(root: URL, order: S3KeyOrder) throws {
        var path = root.path
        if !path.hasSuffix("/") { path += "/" }
        self.order = order
        stack = [Frame(directory: path, relative: "", names: try Self.sortedNames(path, order: order, skipped: &skipped))]
    }

    /// A walker of nothing.
    init() {}

    /// The entries left out since the last call.
    mutating func takeSkipped() -> [String] {
        defer { skipped.removeAll() }
        return skipped
    }

    /// The next file, or `nil` at the end.
    mutating func next() throws -> SyncEntry? {
        while var top = stack.popLast() {
            guard top.index < top.names.count else { continue }
            let (name, isDirectory) = top.names[top.index]
            top.index += 1
            stack.append(top)
            let full = top.directory + name
            if isDirectory {
                let names: [(name: String, isDirectory: Bool)]
                do {
                    names = try Self.sortedNames(full + "/", order: order, skipped: &skipped)
                } catch {
                    skipped.append(top.relative + name + "/ (\(error))")
                    continue
                }
                stack.append(Frame(directory: full + "/", relative: top.relative + name + "/", names: names))
                continue
            }
            var st = stat()
            guard stat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            let modified = Date(timeIntervalSince1970: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
            return SyncEntry(path: top.relative + name, size: Int64(st.st_size), modified: modified)
        }
        return nil
    }

    /// The entries of one directory that can be synced (regular files, links to them,
    /// directories that are not links), in key order.
    static func sortedNames(_ directory: String, order: S3KeyOrder, skipped: inout [String]) throws -> [(name: String, isDirectory: Bool)] {
        guard let dir = opendir(directory) else {
            throw S3Error.invalidArgument("cannot read the directory \(directory): \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var out: [(name: String, isDirectory: Bool)] = []
        while let entry = readdir(dir) {
            let raw = withUnsafeBytes(of: entry.pointee.d_name) { bytes -> [UInt8] in
                Array(bytes.prefix { $0 != 0 })
            }
            if raw == [0x2E] || raw == [0x2E, 0x2E] { continue }
            guard let name = String(validating: raw, as: UTF8.self) else {
                skipped.append(directory + String(decoding: raw, as: UTF8.self) + " (the name is not UTF-8)")
                continue
            }
            var st = stat()
            guard lstat(directory + name, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: out.append((name, true))
            case S_IFREG, S_IFLNK: out.append((name, false))   // a link is checked with stat when reached
            default: continue
            }
        }
        out.sort { a, b in order.precedes(a.isDirectory ? a.name + "/" : a.name, b.isDirectory ? b.name + "/" : b.name) }
        return out
    }
}
