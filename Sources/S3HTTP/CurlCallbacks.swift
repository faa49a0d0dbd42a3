import CCurl
#if canImport(Glibc)
import Glibc
#endif

// libcurl's callbacks, as plain C functions. Each receives its Transfer through the userdata
// pointer (unretained: the loop's table keeps the Transfer alive while its handle is in the
// multi). They run on the loop thread only.

@inline(__always)
private func transfer(_ p: UnsafeMutableRawPointer?) -> Transfer {
    Unmanaged<Transfer>.fromOpaque(p!).takeUnretainedValue()
}

func curlWriteCallback(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?) -> Int {
    // Called for every piece of every body (tens of thousands per GiB): the Transfer is used
    // without a retain and release, atomic operations on a count other threads change too
    // (5-10% of a 1 GiB download's CPU). The loop's table keeps it alive meanwhile.
    Unmanaged<Transfer>.fromOpaque(userdata!)._withUnsafeGuaranteedRef {
        $0.loopReceive(UnsafeRawBufferPointer(start: buffer, count: size * count))
    }
}

func curlHeaderCallback(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?) -> Int {
    transfer(userdata).loopHeaderLine(UnsafeRawBufferPointer(start: buffer, count: size * count))
    return size * count
}

func curlReadCallback(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?) -> Int {
    let t = transfer(userdata)
    let out = UnsafeMutableRawBufferPointer(start: buffer, count: size * count)
    switch t.request.body.storage {
    case .none:
        return 0
    case .bytes(let bytes):
        let start = Int(t.loopUploadOffset)
        let n = min(out.count, bytes.count - start)
        if n <= 0 { return 0 }
        bytes.withUnsafeBytes { src in
            out.baseAddress!.copyMemory(from: src.baseAddress!.advanced(by: start), byteCount: n)
        }
        t.loopUploadOffset += Int64(n)
        t.loopLastActivity = monotonicNanoseconds()
        return n
    case .buffer(let part):
        let start = Int(t.loopUploadOffset)
        let n = min(out.count, part.count - start)
        if n <= 0 { return 0 }
        out.baseAddress!.copyMemory(from: part.base + start, byteCount: n)
        t.loopUploadOffset += Int64(n)
        t.loopLastActivity = monotonicNanoseconds()
        return n
    case .file(let fd, let offset, let length):
        let remaining = length - t.loopUploadOffset
        if remaining <= 0 { return 0 }
        let want = Int(min(Int64(out.count), remaining))
        var r: Int
        repeat {
            r = pread(fd, out.baseAddress, want, off_t(offset + t.loopUploadOffset))
        } while r < 0 && errno == EINTR
        if r <= 0 {
            // An error, or a file shorter than promised (it shrank since the upload was planned).
            let at = offset + t.loopUploadOffset
            let reason = r < 0 ? "reading the file failed at byte \(at): \(String(cString: strerror(errno)))"
                : "the file ended at byte \(at), before the \(offset + length) promised"
            t.loopFailUpload(HTTPTransportError(kind: .requestBodyFailed, host: t.host, curlCode: 0, message: reason))
            return Int(s3_curl_readfunc_abort())
        }
        t.loopUploadOffset += Int64(r)
        t.loopLastActivity = monotonicNanoseconds()
        return r
    case .stream:
        let n = t.loopSendStream(into: out)
        if n > 0 && n <= out.count { t.loopLastActivity = monotonicNanoseconds() }
        return n
    }
}

func curlSeekCallback(_ userdata: UnsafeMutableRawPointer?, _ offset: curl_off_t, _ origin: Int32) -> Int32 {
    let t = transfer(userdata)
    guard origin == SEEK_SET else { return s3_curl_seekfunc_cantseek() }
    switch t.request.body.storage {
    case .none, .bytes, .buffer, .file:
        guard offset >= 0, Int64(offset) <= (t.request.body.length ?? 0) else { return s3_curl_seekfunc_fail() }
        t.loopUploadOffset = Int64(offset)
        return s3_curl_seekfunc_ok()
    case .stream:
        return s3_curl_seekfunc_cantseek()
    }
}

func curlPrereqCallback(_ userdata: UnsafeMutableRawPointer?, _ primaryIP: UnsafeMutablePointer<CChar>?, _ localIP: UnsafeMutablePointer<CChar>?,
                        _ primaryPort: Int32, _ localPort: Int32) -> Int32 {
    transfer(userdata).loopConnectionReady()
    return s3_curl_prereqfunc_ok()
}
