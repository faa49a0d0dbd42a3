import Foundation
import NIOCore

/// Dates every object reports: the server's start (objects carry no clock of their own).
let serverStartHTTPDate: String = {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "GMT")
    f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    return f.string(from: Date())
}()

let serverStartISODate: String = {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.string(from: Date())
}()

func percentDecode<S: StringProtocol>(_ text: S) -> String {
    guard text.contains("%") else { return String(text) }
    var bytes: [UInt8] = []
    var utf8 = Array(text.utf8)[...]
    while let byte = utf8.popFirst() {
        if byte == UInt8(ascii: "%"), utf8.count >= 2,
           let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
            bytes.append(value)
            utf8 = utf8.dropFirst(2)
        } else {
            bytes.append(byte)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// `encoding-type=url`: everything but unreserved characters and `/` is percent-encoded.
func urlEncode(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
            out.unicodeScalars.append(UnicodeScalar(byte))
        default:
            out += String(format: "%%%02X", byte)
        }
    }
    return out
}

func xmlEscape(_ text: String) -> String {
    guard text.contains(where: { "&<>\"'".contains($0) }) else { return text }
    var out = ""
    for c in text {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default: out.append(c)
        }
    }
    return out
}

func xmlUnescape(_ text: String) -> String {
    guard text.contains("&") else { return text }
    return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
        .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
        .replacingOccurrences(of: "&#13;", with: "\r").replacingOccurrences(of: "&#10;", with: "\n")
        .replacingOccurrences(of: "&amp;", with: "&")
}

/// The text of every `<name>...</name>` element, in order (the request bodies the server
/// reads, CompleteMultipartUpload and Delete, are flat enough for this).
func xmlValues(of name: String, in text: String) -> [String] {
    var out: [String] = []
    var rest = text[...]
    let open = "<\(name)>", close = "</\(name)>"
    while let start = rest.range(of: open), let end = rest[start.upperBound...].range(of: close) {
        out.append(String(rest[start.upperBound..<end.lowerBound]))
        rest = rest[end.upperBound...]
    }
    return out
}

func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(hex.utf8)[...]
    while chars.count >= 2 {
        out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16) ?? 0)
        chars = chars.dropFirst(2)
    }
    return out
}

/// Strips `aws-chunked` framing (`size[;chunk-signature=...]\r\n data \r\n ... 0\r\n trailers`).
func decodeAWSChunked(_ chunks: [ByteBuffer]) -> ByteBuffer {
    var all = ByteBuffer()
    for var chunk in chunks { all.writeBuffer(&chunk) }
    var out = ByteBuffer()
    out.reserveCapacity(all.readableBytes)
    while all.readableBytes > 0 {
        guard let lineEnd = all.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { break }
        let line = all.readString(length: lineEnd - all.readerIndex + 1) ?? ""
        let sizeText = line.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        guard let size = Int(sizeText, radix: 16), size > 0, var data = all.readSlice(length: size) else { break }
        out.writeBuffer(&data)
        all.moveReaderIndex(forwardBy: min(2, all.readableBytes))  // the CRLF after the data
    }
    return out
}
