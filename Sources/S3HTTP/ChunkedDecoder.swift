/// Reads a `Transfer-Encoding: chunked` body (RFC 9112 §7.1) as it arrives, in pieces of any
/// size: the direct path's framing for answers without a `Content-Length` (S3 stores send long
/// listings and error bodies this way). Pure: unit-tested and fuzzed on its own.
///
/// Each chunk is a size line (hex digits, optional `;extensions`), that many bytes, and a
/// line end; a chunk of size 0 ends the body, after trailer lines and a blank line, which are
/// read and dropped. A bare LF is taken wherever CRLF belongs, as curl takes it.
package struct ChunkedDecoder: Sendable {
    /// What ``decode(_:into:)`` made of its input.
    package enum Outcome: Equatable, Sendable {
        /// Every byte was taken; the body goes on.
        case more
        /// The body ended `consumed` bytes into the input: what follows is not the body's.
        case finished(consumed: Int)
        /// Not a chunked body.
        case invalid(String)
    }

    /// The longest chunk size accepted (hex digits beyond it are refused, not wrapped around).
    package static let maxChunkSize: UInt64 = 1 << 40
    /// The most bytes of chunk extensions, and of trailer lines, accepted.
    package static let maxLineBytes = 16 << 10

    private enum State: Sendable {
        case size, sizeExtension, sizeLF, data, dataCR, dataLF, trailerStart, trailerLine, lastLF, done, failed
    }

    private var state = State.size
    private var digits = 0
    private var size: UInt64 = 0
    private var lineBytes = 0

    /// A decoder at the start of a body.
    package init() {}

    /// The last chunk and the trailer have been read.
    package var isFinished: Bool { if case .done = state { return true } else { return false } }

    /// Decodes `input`, appending the body's bytes to `output`. After `.finished` or `.invalid`
    /// it takes nothing more.
    package mutating func decode(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) -> Outcome {
        var i = 0
        let n = input.count
        while i < n {
            let byte = input[i]
            switch state {
            case .size:
                if let v = Self.hexValue(byte) {
                    guard size <= Self.maxChunkSize >> 4 else { return fail("a chunk size over \(Self.maxChunkSize) bytes") }
                    size = size << 4 | UInt64(v)
                    digits += 1
                    i += 1
                    continue
                }
                guard digits > 0 else { return fail("a chunk size line without a size") }
                switch byte {
                case 0x0D: state = .sizeLF
                case 0x0A: endOfSizeLine()
                case 0x3B, 0x20, 0x09: state = .sizeExtension; lineBytes = 0
                default: return fail("a chunk size that is not hexadecimal")
                }
                i += 1
            case .sizeExtension:
                if byte == 0x0D {
                    state = .sizeLF
                } else if byte == 0x0A {
                    endOfSizeLine()
                } else {
                    lineBytes += 1
                    guard lineBytes <= Self.maxLineBytes else { return fail("chunk extensions longer than \(Self.maxLineBytes) bytes") }
                }
                i += 1
            case .sizeLF:
                guard byte == 0x0A else { return fail("a chunk size line not ended by CRLF") }
                endOfSizeLine()
                i += 1
            case .data:
                let take = Int(min(UInt64(n - i), size))
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<(i + take)]))
                size -= UInt64(take)
                i += take
                if size == 0 { state = .dataCR }
            case .dataCR:
                if byte == 0x0D {
                    state = .dataLF
                } else if byte == 0x0A {
                    startChunk()
                } else {
                    return fail("a chunk's data not followed by CRLF")
                }
                i += 1
            case .dataLF:
                guard byte == 0x0A else { return fail("a chunk's data not followed by CRLF") }
                startChunk()
                i += 1
            case .trailerStart:
                if byte == 0x0D {
                    state = .lastLF
                } else if byte == 0x0A {
                    state = .done
                    return .finished(consumed: i + 1)
                } else {
                    state = .trailerLine
                    lineBytes += 1
                }
                i += 1
            case .trailerLine:
                lineBytes += 1
                guard lineBytes <= Self.maxLineBytes else { return fail("trailer lines longer than \(Self.maxLineBytes) bytes") }
                if byte == 0x0A { state = .trailerStart }
                i += 1
            case .lastLF:
                guard byte == 0x0A else { return fail("the chunked body's last line not ended by CRLF") }
                state = .done
                return .finished(consumed: i + 1)
            case .done:
                return .finished(consumed: 0)
            case .failed:
                return .invalid("the chunked body was already found invalid")
            }
        }
        if case .done = state { return .finished(consumed: 0) }
        if case .failed = state { return .invalid("the chunked body was already found invalid") }
        return .more
    }

    private mutating func endOfSizeLine() {
        if size == 0 {
            state = .trailerStart
            lineBytes = 0
        } else {
            state = .data
        }
    }

    private mutating func startChunk() {
        state = .size
        digits = 0
        size = 0
    }

    private mutating func fail(_ why: String) -> Outcome {
        state = .failed
        return .invalid(why)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}
