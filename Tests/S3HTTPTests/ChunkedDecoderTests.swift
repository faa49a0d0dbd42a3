@testable import S3HTTP
import Testing

/// The chunked body reader of the direct path, on its own.
@Suite struct ChunkedDecoderTests {
    /// Decodes `text` fed in pieces of `step` bytes: the body, and the outcome of the last piece
    /// (the first `.finished` or `.invalid` ends it, with `consumed` counted from the whole input).
    func decode(_ text: String, step: Int = .max) -> ([UInt8], ChunkedDecoder.Outcome) {
        let bytes = Array(text.utf8)
        var decoder = ChunkedDecoder()
        var out: [UInt8] = []
        var at = 0
        var last = ChunkedDecoder.Outcome.more
        while at < bytes.count {
            let end = min(bytes.count, at + step)
            last = bytes[at..<end].withUnsafeBytes { decoder.decode($0, into: &out) }
            if case .finished(let consumed) = last { return (out, .finished(consumed: at + consumed)) }
            if case .invalid = last { return (out, last) }
            at = end
        }
        return (out, last)
    }

    @Test func bodiesDecodeTheSameWhateverThePieces() {
        let cases: [(String, String)] = [
            ("5\r\nhello\r\n0\r\n\r\n", "hello"),
            ("4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n", "Wikipedia in\r\n\r\nchunks."),
            ("a\r\n0123456789\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n", "0123456789"),
            ("3\nabc\n0\n\n", "abc"),  // bare LFs, as curl takes them
            ("1 ;x\r\nq\r\n0\r\n\r\n", "q"),
            ("0\r\n\r\n", ""),
            ("00000002\r\nok\r\n0\r\n\r\n", "ok"),
        ]
        for (text, body) in cases {
            for step in [1, 2, 3, 7, .max] {
                let (out, outcome) = decode(text, step: step)
                #expect(String(decoding: out, as: UTF8.self) == body, "\(String(reflecting: text)) in steps of \(step)")
                #expect(outcome == .finished(consumed: text.utf8.count), "\(String(reflecting: text)) in steps of \(step)")
            }
        }
    }

    @Test func bytesAfterTheBodyAreNotTaken() {
        let (out, outcome) = decode("2\r\nhi\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n")
        #expect(out == Array("hi".utf8))
        #expect(outcome == .finished(consumed: 12))
    }

    @Test func anUnfinishedBodyAsksForMore() {
        for text in ["", "5", "5\r", "5\r\nhel", "5\r\nhello", "5\r\nhello\r\n", "5\r\nhello\r\n0\r\n", "0\r\nX-T: 1\r\n"] {
            let (_, outcome) = decode(text)
            #expect(outcome == .more, "\(String(reflecting: text))")
        }
    }

    @Test func whatIsNotChunkedIsRefused() {
        let invalid = [
            "g\r\nx\r\n0\r\n\r\n", "\r\n", ";ext\r\n", "-1\r\n", "5\r\nhelloXX0\r\n\r\n", "5\rhello",
            "1\r\nx\r\n0\r\n\rX", "100000000000\r\n", "FFFFFFFFFFFFFFFFFFFF\r\n",
            "1;" + String(repeating: "e", count: ChunkedDecoder.maxLineBytes + 1) + "\r\n",
            "0\r\n" + String(repeating: "X-T: 1\r\n", count: ChunkedDecoder.maxLineBytes / 8 + 1),
        ]
        for text in invalid {
            for step in [1, .max] {
                guard case .invalid = decode(text, step: step).1 else {
                    Issue.record("\(String(reflecting: text.prefix(40))) in steps of \(step) is not refused")
                    continue
                }
            }
        }
        // Once refused, it stays refused.
        var decoder = ChunkedDecoder()
        var out: [UInt8] = []
        _ = Array("z\r\n".utf8).withUnsafeBytes { decoder.decode($0, into: &out) }
        guard case .invalid = Array("0\r\n\r\n".utf8).withUnsafeBytes({ decoder.decode($0, into: &out) }) else {
            Issue.record("a refused body was taken up again")
            return
        }
    }

    @Test func theLargestChunkSizeIsTakenAndOneMoreDigitIsNot() {
        var decoder = ChunkedDecoder()
        var out: [UInt8] = []
        let line = String(ChunkedDecoder.maxChunkSize, radix: 16) + "\r\nabc"
        #expect(Array(line.utf8).withUnsafeBytes { decoder.decode($0, into: &out) } == .more)
        #expect(out == Array("abc".utf8))
    }
}
