import Foundation
import S3HTTP
import S3Signing

/// The checksum algorithms S3 stores with objects (`x-amz-checksum-*`).
public enum S3ChecksumAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// CRC-32 (zlib's): `x-amz-checksum-crc32`. The AWS SDKs' default.
    case crc32 = "CRC32"
    /// CRC-32C (Castagnoli): `x-amz-checksum-crc32c`. Ours by default: the CPU computes it
    /// fastest (about 10 GB/s on one core here).
    case crc32c = "CRC32C"
    /// CRC-64/NVME: `x-amz-checksum-crc64nvme`. What S3 stores when a client sends none;
    /// the only full-object multipart checksum Cloudflare R2 accepts.
    case crc64nvme = "CRC64NVME"
    /// SHA-1, validated on reads; not used for uploads (it cannot be combined across parts).
    case sha1 = "SHA1"
    /// SHA-256, validated on reads; not used for uploads (it cannot be combined across parts).
    case sha256 = "SHA256"

    /// Whether uploads can carry it (the CRCs: they combine across parts).
    public var isUploadAlgorithm: Bool { crcKind != nil }

    /// The header that carries a value of this algorithm, e.g. `x-amz-checksum-crc32c`.
    public var headerName: String { "x-amz-checksum-" + rawValue.lowercased() }

    /// The element of multipart documents (`ChecksumCRC32C`, ...).
    var elementName: String { "Checksum" + rawValue }

    /// The CRC of this algorithm, `nil` for the SHA digests.
    var crcKind: CRC.Kind? {
        switch self {
        case .crc32: .crc32
        case .crc32c: .crc32c
        case .crc64nvme: .crc64nvme
        case .sha1, .sha256: nil
        }
    }

    /// The length of a value in bytes.
    var byteCount: Int { crcKind?.byteCount ?? (self == .sha1 ? 20 : 32) }
}

/// A checksum as S3 reports it for an object or a part.
public struct S3Checksum: Sendable, Hashable, CustomStringConvertible {
    /// Whether a value covers the object's bytes, or is a checksum of its parts' checksums.
    public enum Kind: Sendable, Hashable {
        /// The checksum of every byte of the object (single PUTs; multipart uploads completed
        /// with `x-amz-checksum-type: FULL_OBJECT`).
        case fullObject
        /// The checksum of the concatenated checksums of the parts, followed by `-N` (the
        /// number of parts): S3's default for multipart uploads with CRC-32/32C and SHA.
        case composite(parts: Int)
    }

    /// The algorithm.
    public var algorithm: S3ChecksumAlgorithm
    /// The value, base64 of the big-endian bytes, without a `-N` suffix.
    public var value: String
    /// Full-object or composite.
    public var kind: Kind

    /// A checksum value.
    public init(algorithm: S3ChecksumAlgorithm, value: String, kind: Kind = .fullObject) {
        self.algorithm = algorithm
        self.value = value
        self.kind = kind
    }

    /// The checksum of computed bytes (big-endian), e.g. a CRC's ``CRC/bigEndianBytes``.
    init(algorithm: S3ChecksumAlgorithm, bytes: [UInt8], kind: Kind = .fullObject) {
        self.init(algorithm: algorithm, value: Data(bytes).base64EncodedString(), kind: kind)
    }

    /// A CRC's value.
    init(_ crc: CRC) {
        let algorithm: S3ChecksumAlgorithm = switch crc.kind {
        case .crc32: .crc32
        case .crc32c: .crc32c
        case .crc64nvme: .crc64nvme
        }
        self.init(algorithm: algorithm, bytes: crc.bigEndianBytes)
    }

    /// The decoded value (`nil` when it is not base64 of the algorithm's length).
    var bytes: [UInt8]? {
        guard let data = Data(base64Encoded: value), data.count == algorithm.byteCount else { return nil }
        return [UInt8](data)
    }

    /// The value as a CRC register, for the CRC algorithms.
    var crcValue: UInt64? {
        guard algorithm.crcKind != nil, let bytes else { return nil }
        return bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// `CRC32C zNyEFw==`, with `-N (composite)` for a composite value.
    public var description: String {
        switch kind {
        case .fullObject: "\(algorithm.rawValue) \(value)"
        case .composite(let n): "\(algorithm.rawValue) \(value)-\(n) (composite)"
        }
    }

    /// The object checksum in response headers (GET or HEAD with `x-amz-checksum-mode:
    /// ENABLED`), if any: `x-amz-checksum-<algorithm>` with `x-amz-checksum-type`, or a
    /// `-N` suffix, telling a composite value.
    static func from(_ headers: HTTPHeaders) -> S3Checksum? {
        let type = headers["x-amz-checksum-type"]?.uppercased()
        for algorithm in [S3ChecksumAlgorithm.crc64nvme, .crc32c, .crc32, .sha256, .sha1] {
            guard let raw = headers[algorithm.headerName], !raw.isEmpty else { continue }
            var value = Substring(raw)
            var parts: Int?
            if let dash = raw.lastIndex(of: "-"), let n = Int(raw[raw.index(after: dash)...]) {
                value = raw[..<dash]
                parts = n
            }
            if type == "COMPOSITE" || parts != nil {
                return S3Checksum(algorithm: algorithm, value: String(value), kind: .composite(parts: parts ?? 0))
            }
            // No type and no `-N`: full-object for a single-part object. For a multipart one
            // (ETag `...-N`) the kind is unknown (moto's HEAD says neither), and a composite
            // value taken for a full-object one would reject good bytes: not reported.
            if type == nil, let eTag = headers["etag"], let dash = eTag.lastIndex(of: "-"),
               Int(eTag[eTag.index(after: dash)...].filter { $0 != "\"" }) != nil {
                return nil
            }
            return S3Checksum(algorithm: algorithm, value: String(value))
        }
        return nil
    }
}

/// When checksums are computed and checked (``S3Configuration/checksums``).
public enum S3ChecksumMode: Sendable, Hashable {
    /// Every upload carries a whole-object checksum the store verifies (a CRC header on single
    /// PUTs; a full-object CRC on multipart uploads, the parts' CRCs combined), and every read
    /// asks for the stored checksum (`x-amz-checksum-mode: ENABLED`) and checks the bytes
    /// against it. As the AWS SDKs' `WHEN_SUPPORTED`, but also for parallel ranged downloads
    /// and multipart objects. The default.
    case whenSupported
    /// Only what the payload protection needs (``S3PayloadProtection/checksumOnly`` sends a
    /// CRC); reads are not checked. As the AWS SDKs' `WHEN_REQUIRED`.
    case whenRequired
}

/// A checksum being computed over bytes as they pass: a CRC or a SHA digest.
struct RunningChecksum {
    private var crc: CRC?
    private let digest: IncrementalDigest?
    let algorithm: S3ChecksumAlgorithm

    init(_ algorithm: S3ChecksumAlgorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .crc32, .crc32c, .crc64nvme:
            crc = CRC(algorithm.crcKind!)
            digest = nil
        case .sha1:
            crc = nil
            digest = IncrementalDigest(.sha1)
        case .sha256:
            crc = nil
            digest = IncrementalDigest(.sha256)
        }
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        if crc != nil { crc!.update(bytes) } else { digest!.update(bytes) }
    }

    /// The checksum of the bytes so far (a digest is reset by this).
    mutating func finish() -> S3Checksum {
        if let crc { return S3Checksum(crc) }
        return S3Checksum(algorithm: algorithm, bytes: digest!.finalize())
    }
}

extension S3Error {
    /// The bytes read do not match the checksum the store holds.
    static func checksumMismatch(expected: S3Checksum, computed: S3Checksum, what: String, bucket: String, key: String) -> S3Error {
        S3Error(code: .integrityFailure,
                message: "\(what) does not match the stored checksum: \(expected.algorithm.rawValue) \(computed.value) computed, "
                    + "\(expected.value) stored (the data was corrupted on the way, or by the store)",
                bucket: bucket, key: key)
    }
}

/// Checks bytes against a composite checksum as they pass in order: the checksum of each part
/// (cut at the parts' sizes), then the checksum of those checksums' concatenation, which is
/// what the store reports (without its `-N`).
struct CompositeChecker {
    let expected: S3Checksum
    private let sizes: [Int64]
    private var part = 0
    private var left: Int64
    private var running: RunningChecksum
    private var digests: [UInt8] = []
    private var overflow = false

    /// `nil` unless `expected` is composite and `sizes` are as many positive sizes as it has parts.
    init?(expected: S3Checksum, sizes: [Int64]) {
        guard case .composite(let count) = expected.kind, count == sizes.count, let first = sizes.first,
              !sizes.contains(where: { $0 <= 0 }) else { return nil }
        self.expected = expected
        self.sizes = sizes
        self.left = first
        self.running = RunningChecksum(expected.algorithm)
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while !rest.isEmpty {
            guard part < sizes.count else {
                overflow = true
                return
            }
            let n = Int(min(Int64(rest.count), left))
            running.update(UnsafeRawBufferPointer(rebasing: rest[..<n]))
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            left -= Int64(n)
            if left == 0 {
                digests += running.finish().bytes ?? []
                part += 1
                if part < sizes.count {
                    left = sizes[part]
                    running = RunningChecksum(expected.algorithm)
                }
            }
        }
    }

    /// The composite checksum of the bytes seen; `nil` when they did not fill the parts exactly
    /// (then nothing can be said).
    mutating func finish() -> S3Checksum? {
        guard !overflow, part == sizes.count else { return nil }
        var ofParts = RunningChecksum(expected.algorithm)
        digests.withUnsafeBytes { ofParts.update($0) }
        let whole = ofParts.finish()
        return S3Checksum(algorithm: expected.algorithm, value: whole.value, kind: .composite(parts: sizes.count))
    }
}

extension S3Client {
    /// The sizes of the parts of a multipart object, for checking a composite checksum: from
    /// GetObjectAttributes (one request per 1,000 parts) where the store reports parts there,
    /// else from a HEAD `?partNumber=N` of each, 8 at a time. `nil` when the store tells
    /// neither (or the sizes do not add up to `total`). No `If-Match` (GetObjectAttributes has
    /// none; moto compares it with the part's own ETag and refuses): an object replaced
    /// meanwhile gives sizes that do not fit, hence no check.
    func partSizes(bucket: String, key: String, count: Int, total: Int64, eTag: String?) async throws -> [Int64]? {
        guard (1...10_000).contains(count) else { return nil }
        if !lacksObjectParts.load(ordering: .relaxed) {
            if let sizes = try await partSizesFromAttributes(bucket: bucket, key: key, count: count, total: total) { return sizes }
        }
        return try await partSizesFromHeads(bucket: bucket, key: key, count: count, total: total)
    }

    /// The parts' sizes from GetObjectAttributes, page by page; `nil` when the store does not
    /// report parts there (then this client stops asking: moto answers without ObjectParts,
    /// other stores with NotImplemented) or they do not fit.
    private func partSizesFromAttributes(bucket: String, key: String, count: Int, total: Int64) async throws -> [Int64]? {
        var sizes: [Int64] = []
        var marker: Int?
        do {
            repeat {
                let page = try await objectAttributes(bucket: bucket, key: key, maxParts: 1000, partNumberMarker: marker)
                guard page.partsCount != nil, !page.parts.isEmpty else {
                    lacksObjectParts.store(true, ordering: .relaxed)
                    return nil
                }
                for part in page.parts {
                    guard part.partNumber == sizes.count + 1 else { return nil }
                    sizes.append(part.size)
                }
                guard let next = page.nextPartNumberMarker, next > (marker ?? 0) else { break }
                marker = next
            } while sizes.count < count
        } catch is CancellationError {
            throw CancellationError()
        } catch let e as S3Error where e.httpStatus.map({ [400, 403, 405, 501].contains($0) }) == true {
            // A store without GetObjectAttributes (or that refuses it): ask the part HEADs.
            lacksObjectParts.store(true, ordering: .relaxed)
            return nil
        } catch {
            return nil
        }
        guard sizes.count == count, sizes.reduce(0, +) == total, !sizes.contains(where: { $0 <= 0 }) else { return nil }
        return sizes
    }

    /// The parts' sizes from a HEAD `?partNumber=N` of each, 8 at a time.
    private func partSizesFromHeads(bucket: String, key: String, count: Int, total: Int64) async throws -> [Int64]? {
        var sizes = [Int64](repeating: 0, count: count)
        do {
            try await withThrowingTaskGroup(of: (Int, Int64).self) { group in
                for n in 1...count {
                    if n > 8, let (i, size) = try await group.next() { sizes[i] = size }
                    group.addTask {
                        let part = try await self.headObject(bucket: bucket, key: key, partNumber: n, ifMatch: nil)
                        return (n - 1, part.size)
                    }
                }
                while let (i, size) = try await group.next() { sizes[i] = size }
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            return nil  // a store without part HEADs: the checksum cannot be checked, which is not an error
        }
        guard sizes.reduce(0, +) == total, !sizes.contains(where: { $0 <= 0 }) else { return nil }
        return sizes
    }
}
