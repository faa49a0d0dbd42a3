import CCurl
import CTLS
#if canImport(Glibc)
import Glibc
#endif

/// One exchange on a direct connection (``DirectConnection``), driven by the loop whenever its
/// socket is ready: the TLS handshake, the request (`DirectSending.swift`), the response head
/// (``DirectHTTP/parseHead(_:)``), then the body in its framing (`Content-Length` bytes, chunks
/// through ``ChunkedDecoder``, or up to the close) into where the transfer wants it: its part
/// buffer, its file (`splice`d over plain HTTP, decrypted into gathered writes over TLS), or its
/// reader's buffer through the transfer's state machine.
extension CurlLoop {
    /// The most bytes of a streamed body handed to its reader's buffer at once.
    static let directPieceSize = 16 << 10

    /// Moves bytes on `connection` until the socket would block or the exchange ends.
    func directService(_ connection: DirectConnection) {
        while let t = connection.transfer {
            switch connection.state {
            case .handshaking:
                guard let tls = connection.tls else { return }
                let r = s3_tls_handshake(tls)
                if r == 1 {
                    if s3_tls_resumed(tls) == 1 { directResumed.wrappingAdd(1, ordering: .relaxed) }
                    connection.machine.apply(.handshakeDone)
                    directEndOpening(connection)
                    t.loopLastActivity = monotonicNanoseconds()
                    continue
                }
                if Int(r) == S3_TLS_WANT_READ || Int(r) == S3_TLS_WANT_WRITE {
                    connection.machine.tlsWait = Int(r) == S3_TLS_WANT_READ ? .read : .write
                    return
                }
                // A certificate or handshake failure is the TLS's, not the network's: not retried.
                finish(t, .failure(HTTPTransportError(kind: .tls, host: t.host, curlCode: 0,
                                                      message: "\(DirectHTTP.endpoint(ofKey: connection.key).authority): " + directTLSError(tls))))
                return
            case .sending:
                guard directSendRequest(connection, t) else { return }
            case .head:
                guard directReadHead(connection, t) else { return }
            case .body:
                guard directReadBody(connection, t) else { return }
            case .connecting, .idle, .closed:
                return
            }
        }
    }

    /// Reads what the connection holds (at most 16 KiB) onto the end of `headBytes`: what
    /// ``directRecv(_:_:_:)`` returned, and `errno` after it.
    func directReadMoreHead(_ connection: DirectConnection) -> (Int, Int32) {
        let chunk = 16 << 10
        let old = connection.headBytes.count
        connection.headBytes.append(contentsOf: repeatElement(0, count: chunk))
        let n = connection.headBytes.withUnsafeMutableBytes { directRecv(connection, $0.baseAddress! + old, chunk) }
        let savedErrno = errno
        connection.headBytes.removeLast(chunk - max(n, 0))
        return (n, savedErrno)
    }

    /// Reads and parses the head; true to go on (the state moved on), false to wait or stop.
    func directReadHead(_ connection: DirectConnection, _ t: Transfer) -> Bool {
        let (n, savedErrno) = directReadMoreHead(connection)
        if n == 0 && !connection.unparsedHead {
            directBroken(connection, t, "the connection closed before the response head")
            return false
        }
        if n < 0 {
            if savedErrno == EINTR { return true }
            if savedErrno == EAGAIN || savedErrno == EWOULDBLOCK {
                // Bytes read while the request was being written are parsed now, or they would
                // wait for more that may never come.
                guard connection.unparsedHead else { return false }
            } else {
                directBroken(connection, t, "receiving failed: " + directIOError(connection, savedErrno))
                return false
            }
        }
        connection.unparsedHead = false
        connection.receivedAny = true
        t.loopLastActivity = monotonicNanoseconds()
        while true {
            let parsed = connection.headBytes.withUnsafeBytes { DirectHTTP.parseHead($0) }
            switch parsed {
            case .needMore:
                return true
            case .invalid(let why):
                finish(t, .failure(HTTPTransportError(kind: .protocolError, host: t.host, curlCode: 0, message: "invalid response: " + why)))
                return false
            case .head(let head):
                if (100..<200).contains(head.status) {
                    // An interim answer (100 Continue and the like): the real one follows.
                    connection.headBytes.removeFirst(head.length)
                    if head.status == 101 {
                        finish(t, .failure(HTTPTransportError(kind: .protocolError, host: t.host, curlCode: 0,
                                                              message: "invalid response: a protocol switch to a GET")))
                        return false
                    }
                    continue
                }
                if connection.cutShort && (200..<300).contains(head.status) {
                    // A success for a request whose body was not all sent: not to be believed.
                    finish(t, .failure(HTTPTransportError(kind: .protocolError, host: t.host, curlCode: 0,
                                                          message: "invalid response: \(head.status) before the request body was sent")))
                    return false
                }
                connection.keepAlive = head.keepAlive && !connection.cutShort
                // The body's framing (RFC 9112 §6.3): none after HEAD, 204 and 304; chunked;
                // else Content-Length; else (no length, or a coding other than chunked) until
                // the server closes, after which the connection is not kept.
                let lengthKnown: Bool
                if t.request.method == "HEAD" || head.status == 204 || head.status == 304 {
                    connection.remaining = 0
                    lengthKnown = true
                } else if head.isChunked {
                    connection.chunked = ChunkedDecoder()
                    connection.remaining = .max
                    lengthKnown = false
                } else if let length = head.contentLength, !head.hasTransferEncoding {
                    connection.remaining = length
                    lengthKnown = true
                } else {
                    connection.untilClose = true
                    connection.keepAlive = false
                    connection.remaining = .max
                    lengthKnown = false
                }
                let rest = Array(connection.headBytes[head.length...])
                connection.headBytes.removeAll(keepingCapacity: true)
                connection.machine.apply(.headRead)
                t.loopHeaderFields = head.fields
                t.loopStatus = head.status
                t.deliverHead(status: head.status)
                guard connection.transfer === t else { return false }  // the caller went away meanwhile
                if !lengthKnown {
                    // Checked piece by piece as the body comes (directDeliver).
                } else if let buffer = t.loopDirect, Int64(buffer.capacity - buffer.count) < connection.remaining {
                    t.loopOverflow = true
                } else if let target = t.loopFile, target.length - t.loopBodyBytes < connection.remaining {
                    t.loopOverflow = true
                }
                if t.loopOverflow, let error = t.loopSinkError() {
                    finish(t, .failure(error))
                    return false
                }
                if !rest.isEmpty {
                    return rest.withUnsafeBytes { directTakeBody($0, connection, t) }
                }
                if connection.remaining == 0 { finish(t, .success(())); return false }
                return true
            }
        }
    }

    /// Reads body bytes: into the response buffer with `recv` when the head said it goes
    /// there (2xx), else through the transfer's state machine (an error body).
    func directReadBody(_ connection: DirectConnection, _ t: Transfer) -> Bool {
        if connection.paused { return false }
        if connection.remaining == 0 { finish(t, .success(())); return false }
        if connection.chunked != nil || connection.untilClose { return directReadFramedBody(connection, t) }
        if let target = t.loopFile {
            if t.loopIsCancelled { return false }  // the loop's cancel message ends it
            // Over TLS the bytes are decrypted here: received and written (gathered), never spliced.
            return directFileSpliceOff || connection.tls != nil ? directReceiveIntoFile(connection, t) : directSplice(connection, t, into: target)
        }
        if let buffer = t.loopDirect {
            if t.loopIsCancelled { return false }  // the loop's cancel message ends it
            let want = Int(min(connection.remaining, Int64(buffer.capacity - buffer.count)))
            let n = directRecv(connection, buffer.base + buffer.count, want)
            if n > 0 {
                buffer.count += n
                t.loopBodyBytes += Int64(n)
                connection.remaining -= Int64(n)
                t.loopLastActivity = monotonicNanoseconds()
                if connection.remaining == 0 { finish(t, .success(())); return false }
                return true
            }
            return directReceiveFailed(connection, t, n)
        }
        let size = Int(min(connection.remaining, Int64(directScratch.count)))
        let n = directScratch.withUnsafeMutableBytes { directRecv(connection, $0.baseAddress!, size) }
        if n > 0 {
            return directScratch.withUnsafeBytes { directDeliver(UnsafeRawBufferPointer(rebasing: $0[0..<n]), connection, t) }
        }
        return directReceiveFailed(connection, t, n)
    }

    /// Reads a body that has no `Content-Length`: chunked, or until the server closes.
    func directReadFramedBody(_ connection: DirectConnection, _ t: Transfer) -> Bool {
        if let decoder = connection.chunked, decoder.isFinished {
            // Its last bytes were handed on after a pause.
            connection.remaining = 0
            finish(t, .success(()))
            return false
        }
        if t.loopIsCancelled { return false }  // the loop's cancel message ends it
        let n = directScratch.withUnsafeMutableBytes { directRecv(connection, $0.baseAddress!, $0.count) }
        if n == 0 && connection.untilClose {
            finish(t, .success(()))
            return false
        }
        guard n > 0 else {
            if n == 0 {
                directBroken(connection, t, "the connection closed before the end of the chunked body")
                return false
            }
            return directReceiveFailed(connection, t, n)
        }
        t.loopLastActivity = monotonicNanoseconds()
        return directScratch.withUnsafeBytes { directTakeBody(UnsafeRawBufferPointer(rebasing: $0[0..<n]), connection, t) }
    }

    /// Takes body bytes as they came off the connection, in its framing: decoded first when
    /// chunked, then handed on (``directDeliver(_:_:_:)``). False when it must wait or stop.
    func directTakeBody(_ raw: UnsafeRawBufferPointer, _ connection: DirectConnection, _ t: Transfer) -> Bool {
        guard connection.chunked != nil else {
            if !connection.untilClose && raw.count > connection.remaining {
                finish(t, .failure(HTTPTransportError(kind: .protocolError, host: t.host, curlCode: 0,
                                                      message: "invalid response: more bytes than its Content-Length")))
                return false
            }
            return directDeliver(raw, connection, t)
        }
        directDecoded.removeAll(keepingCapacity: true)
        let outcome = connection.chunked!.decode(raw, into: &directDecoded)
        if case .invalid(let why) = outcome {
            finish(t, .failure(HTTPTransportError(kind: .protocolError, host: t.host, curlCode: 0, message: "invalid response: " + why)))
            return false
        }
        if case .finished(let consumed) = outcome, consumed < raw.count {
            // Bytes after the body that nobody asked for: the connection is not kept.
            connection.keepAlive = false
        }
        if !directDecoded.isEmpty {
            let bytes = directDecoded
            guard bytes.withUnsafeBytes({ directDeliver($0, connection, t) }) else { return false }
        }
        if connection.chunked!.isFinished {
            connection.remaining = 0  // nothing more to come: the connection may be kept
            finish(t, .success(()))
            return false
        }
        return true
    }

    /// Moves body bytes from the socket into the transfer's file without copying them through
    /// this process: `splice` from the socket into the loop's pipe, then from the pipe into the
    /// file at the body's offset. The pipe is empty again when this returns (one that could not
    /// be emptied is dropped).
    func directSplice(_ connection: DirectConnection, _ t: Transfer, into target: ResponseFileRange) -> Bool {
        guard let pipe = directSplicePipe() else { return directReceiveIntoFile(connection, t) }
        let want = Int(min(connection.remaining, Int64(pipe.size)))
        let n = s3_splice(connection.fd, nil, pipe.write, nil, want, 1)
        if n <= 0 {
            if n < 0 && errno == EINVAL {
                // This socket does not splice: receive and write instead.
                directFileSpliceOff = true
                return true
            }
            return directReceiveFailed(connection, t, n)
        }
        var left = n
        while left > 0 {
            var offset = target.offset + t.loopBodyBytes
            // At most writeStep per call: a longer one makes the kernel allocate large folios,
            // which costs far more on a VM whose free pages the host has taken back.
            let m = s3_splice(pipe.read, nil, target.file.fd, &offset, min(left, ResponseFile.writeStep), 0)
            if m > 0 {
                left -= m
                t.loopBodyBytes += Int64(m)
                connection.remaining -= Int64(m)
                continue
            }
            let e = m < 0 ? errno : EIO
            if e == EINTR { continue }
            if e == EINVAL && !directFileSpliceOff {
                // The file's file system does not take `splice`: drain the pipe by reading and
                // writing, and receive the rest that way.
                directFileSpliceOff = true
                guard directDrainPipe(pipe.read, left, into: t) else { break }
                connection.remaining -= Int64(left)
                left = 0
                continue
            }
            t.loopFileErrno = e
            break
        }
        if left > 0 {
            directDropPipe()
            if let error = t.loopSinkError() { finish(t, .failure(error)) }
            return false
        }
        t.fileBytesSoFar.store(t.loopBodyBytes, ordering: .relaxed)
        t.loopLastActivity = monotonicNanoseconds()
        if connection.remaining == 0 { finish(t, .success(())); return false }
        return true
    }

    /// Reads `count` bytes out of the pipe and writes them into the transfer's file; false
    /// when a write failed (`loopFileErrno` says why) or the pipe gave less.
    func directDrainPipe(_ fd: Int32, _ count: Int, into t: Transfer) -> Bool {
        var left = count
        while left > 0 {
            let n = directScratch.withUnsafeMutableBytes { read(fd, $0.baseAddress!, min(left, $0.count)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                t.loopFileErrno = n < 0 ? errno : EIO
                return false
            }
            let written = directScratch.withUnsafeBytes { t.loopWriteFile(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            if !written {
                if t.loopFileErrno == 0 { t.loopFileErrno = EIO }
                return false
            }
            left -= n
        }
        return true
    }

    /// The body into the file without `splice`: `recv` into scratch, then `pwrite`. Over TLS the
    /// bytes are decrypted straight into the transfer's gathered writes.
    func directReceiveIntoFile(_ connection: DirectConnection, _ t: Transfer) -> Bool {
        if connection.tls != nil {
            guard let room = t.loopFileRoom(limit: Int(connection.remaining)) else {
                if let error = t.loopSinkError() { finish(t, .failure(error)) }
                return false  // or cancelled: the loop's cancel message ends it
            }
            let n = directRecv(connection, room.baseAddress!, room.count)
            guard n > 0 else { return directReceiveFailed(connection, t, n) }
            connection.remaining -= Int64(n)
            guard t.loopFileCommit(n) else {
                if let error = t.loopSinkError() { finish(t, .failure(error)) }
                return false
            }
            if connection.remaining == 0 { finish(t, .success(())); return false }
            return true
        }
        let size = Int(min(connection.remaining, Int64(directScratch.count)))
        let n = directScratch.withUnsafeMutableBytes { directRecv(connection, $0.baseAddress!, size) }
        guard n > 0 else { return directReceiveFailed(connection, t, n) }
        guard directScratch.withUnsafeBytes({ t.loopWriteFile(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) else {
            if let error = t.loopSinkError() { finish(t, .failure(error)) }
            return false
        }
        connection.remaining -= Int64(n)
        if connection.remaining == 0 { finish(t, .success(())); return false }
        return true
    }

    /// The loop's splice pipe, made (1 MiB where the system allows) on first use; nil when no
    /// pipe can be made.
    func directSplicePipe() -> (read: Int32, write: Int32, size: Int)? {
        if let pipe = directPipe { return pipe }
        var fds: [Int32] = [-1, -1]
        guard s3_pipe_cloexec_nonblock(&fds) == 0 else { return nil }
        let size = Int(s3_pipe_set_size(fds[1], 1 << 20))
        guard size > 0 else {
            close(fds[0]); close(fds[1])
            return nil
        }
        directPipe = (fds[0], fds[1], size)
        return directPipe
    }

    /// Closes the splice pipe (it may hold bytes of a failed transfer); the next use makes a new one.
    func directDropPipe() {
        guard let pipe = directPipe else { return }
        close(pipe.read)
        close(pipe.write)
        directPipe = nil
    }

    /// A `recv` that returned `n <= 0`: false unless it was interrupted.
    func directReceiveFailed(_ connection: DirectConnection, _ t: Transfer, _ n: Int) -> Bool {
        if n == 0 {
            directBroken(connection, t, "the connection closed with \(connection.remaining) bytes of the body still to come")
            return false
        }
        let e = errno
        if e == EINTR { return true }
        if e == EAGAIN || e == EWOULDBLOCK { return false }
        directBroken(connection, t, "receiving failed: " + directIOError(connection, e))
        return false
    }

    /// `recv` on the connection, or a TLS read decrypting into `buffer`: bytes read (> 0), 0 when
    /// the peer closed, or -1 with `errno` (`EAGAIN` when it must wait; ``DirectConnectionStateMachine/tlsWait``
    /// says for what over TLS; `EPROTO` when TLS failed, ``directIOError(_:_:)`` says why).
    func directRecv(_ connection: DirectConnection, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        guard let tls = connection.tls else { return recv(connection.fd, buffer, count, 0) }
        let n = s3_tls_read(tls, buffer, count)
        return directTLSOutcome(connection, n)
    }

    /// `send` on the connection (`more`: the next bytes follow at once, `MSG_MORE`), or a TLS
    /// write (gathered: see ``CurlLoop/directSendRequest(_:_:)``): as ``directRecv(_:_:_:)``.
    func directSend(_ connection: DirectConnection, _ bytes: UnsafeRawPointer, _ count: Int, more: Bool = false) -> Int {
        guard let tls = connection.tls else {
            return send(connection.fd, bytes, count, Int32(MSG_NOSIGNAL) | (more ? Int32(MSG_MORE) : 0))
        }
        let n = s3_tls_write(tls, bytes, count)
        return directTLSOutcome(connection, n)
    }

    func directTLSOutcome(_ connection: DirectConnection, _ n: Int) -> Int {
        if n > 0 {
            connection.machine.tlsWait = .none
            return n
        }
        switch n {
        case S3_TLS_CLOSED:
            return 0
        case S3_TLS_WANT_READ, S3_TLS_WANT_WRITE:
            connection.machine.tlsWait = n == S3_TLS_WANT_READ ? .read : .write
            errno = EAGAIN
        default:
            errno = EPROTO
        }
        return -1
    }

    /// Why an I/O step failed: the TLS failure's own text over TLS, else `errno`'s.
    func directIOError(_ connection: DirectConnection, _ code: Int32) -> String {
        if code == EPROTO, let tls = connection.tls { return directTLSError(tls) }
        return String(cString: strerror(code))
    }

    /// Hands body bytes that do not go into a response buffer (in order) to the transfer.
    func directDeliver(_ bytes: UnsafeRawBufferPointer, _ connection: DirectConnection, _ t: Transfer) -> Bool {
        if let buffer = t.loopDirect {
            guard buffer.count + bytes.count <= buffer.capacity else {
                // Only a body without Content-Length gets here too long (the head checks the others).
                t.loopOverflow = true
                if let error = t.loopSinkError() { finish(t, .failure(error)) }
                return false
            }
            buffer.append(bytes)
            t.loopBodyBytes += Int64(bytes.count)
            connection.remaining -= Int64(bytes.count)
        } else if t.loopFile != nil {
            guard t.loopWriteFile(bytes) else {
                if let error = t.loopSinkError() { finish(t, .failure(error)) }
                return false  // or cancelled: the loop's cancel message ends it
            }
            connection.remaining -= Int64(bytes.count)
        } else {
            // Handed over at most 16 KiB at a time, as curl does: the reader's buffer takes a
            // piece while it is under its limit, so it holds at most the limit and one piece.
            var at = 0
            while at < bytes.count {
                let piece = UnsafeRawBufferPointer(rebasing: bytes[at..<min(bytes.count, at + Self.directPieceSize)])
                let taken = t.loopReceive(piece)
                if taken == Int(s3_curl_writefunc_pause()) {
                    connection.paused = true
                    connection.pending = Array(bytes[at...])
                    return false
                }
                if taken != piece.count { return false }  // cancelled: the loop's cancel message ends it
                connection.remaining -= Int64(piece.count)
                at += piece.count
            }
        }
        if connection.remaining == 0 { finish(t, .success(())); return false }
        return true
    }

    /// The transfer's reader caught up: hand over what it left, then read on.
    func directResume(_ connection: DirectConnection) {
        guard let t = connection.transfer else { return }
        connection.paused = false
        if !connection.pending.isEmpty {
            let bytes = connection.pending
            connection.pending = []
            guard bytes.withUnsafeBytes({ directDeliver($0, connection, t) }) else { return }
        }
        directService(connection)
    }
}
