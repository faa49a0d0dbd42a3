/// The order a store lists keys in. S3 lists in UTF-8 byte order of the whole key; stores
/// built on a directory tree (SeaweedFS) list folder by folder, so `a/x` comes before `a-b`
/// there (as if `/` sorted before every other character). A sync merges a listing with a
/// directory walk, so both must follow the store's order: the walk is sorted to match.
enum S3KeyOrder: Sendable, Hashable {
    /// UTF-8 byte order (S3, moto, MinIO, Ceph, R2, GCS).
    case bytes
    /// Component by component (`/` below every other byte): SeaweedFS.
    case pathComponents

    /// Whether `a` comes before `b`.
    func precedes(_ a: String, _ b: String) -> Bool {
        switch self {
        case .bytes:
            return a.utf8.lexicographicallyPrecedes(b.utf8)
        case .pathComponents:
            return a.utf8.lexicographicallyPrecedes(b.utf8) { x, y in
                (x == 0x2F ? 0 : Int(x) + 1) < (y == 0x2F ? 0 : Int(y) + 1)
            }
        }
    }

    /// The order a page of keys shows, when two neighbours are in one order and not the other
    /// (`a/x` before `a-b`: folder by folder); `nil` when the page fits both.
    static func of(page keys: [String]) -> S3KeyOrder? {
        for (a, b) in zip(keys, keys.dropFirst()) {
            let (byBytes, byComponents) = (S3KeyOrder.bytes.precedes(a, b), S3KeyOrder.pathComponents.precedes(a, b))
            if byBytes != byComponents { return byBytes ? .bytes : .pathComponents }
        }
        return nil
    }

    /// The order a listing answer shows: SeaweedFS names itself in `Server`.
    static func of(server: String?, store: S3StoreProfile) -> S3KeyOrder {
        if store == .seaweedfs { return .pathComponents }
        if let server, server.lowercased().hasPrefix("seaweedfs") { return .pathComponents }
        return .bytes
    }
}
