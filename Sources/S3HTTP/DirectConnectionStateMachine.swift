/// The life of a direct connection (``DirectConnection``) as a value: the phase it is in, the
/// moves each phase allows, and what its socket waits for. No I/O and no curl here, so every
/// move is unit-tested on its own (`Tests/S3HTTPTests/StateMachineTests.swift`).
///
/// ```
///            attach(TLS)                  handshakeDone
/// connecting ───────────▶ handshaking ─────────────────┐
///   │  │ attach(plain)                                 ▼
///   │  └──────────────────────────────────────────▶ sending ──requestSent──▶ head ──headRead──▶ body
///   │ connectedWithoutTransfer (plain)                 ▲                                      │
///   └──────────────────────────────────▶ idle ─────────┘ attach (handshake done)    released │
///                                          ▲ ◀──────────────────────────────────────────────┘
///   any ──close──▶ closed
/// ```
///
/// A TLS step may wait for the other direction than its phase's (a handshake that must write, a
/// read that must answer a key update): ``tlsWait`` says so, and wins over the phase. While the
/// request is written the socket is watched for reading too: an early answer is read then.
struct DirectConnectionStateMachine: Equatable {
    enum State: Equatable {
        /// curl is opening the TCP connection (curl polls it).
        case connecting
        /// TLS: the handshake is under way.
        case handshaking
        /// The request is being written.
        case sending
        /// The response head is being read.
        case head
        /// The body is being read (`Content-Length` bytes).
        case body
        /// Between exchanges, kept for the next request to the same host.
        case idle
        /// Closed; nothing more happens on it.
        case closed
    }

    enum Event: Equatable {
        /// A request is put on the connection: connected by curl, or idle. A TLS connection
        /// whose handshake is not done starts with it.
        case attach(handshakeNeeded: Bool)
        /// The TLS handshake completed.
        case handshakeDone
        /// The whole request is written.
        case requestSent
        /// The response head is read; its body follows (possibly of no bytes).
        case headRead
        /// The exchange ended cleanly and the connection may carry another.
        case released
        /// curl connected a plain connection for a transfer that went away meanwhile: kept.
        case connectedWithoutTransfer
        /// Closed, from whatever phase.
        case close
    }

    /// What the socket is polled for.
    enum Interest: Equatable {
        case none, read, write
        /// Writing the request, and watching for an answer that comes before it is all written
        /// (a server refusing a body it will not read).
        case readWrite
    }

    private(set) var state: State = .connecting
    /// What the last TLS step waits for, when it moved no bytes; cleared by a step that did.
    var tlsWait: DirectTLSWait = .none

    /// Applies `event`: true when it is a move the current phase allows (then the phase
    /// changes), false otherwise (nothing changes).
    @discardableResult
    mutating func apply(_ event: Event) -> Bool {
        let next: State?
        switch (state, event) {
        case (.connecting, .attach(let handshake)): next = handshake ? .handshaking : .sending
        case (.idle, .attach(false)): next = .sending
        case (.handshaking, .handshakeDone): next = .sending
        case (.sending, .requestSent): next = .head
        case (.head, .headRead): next = .body
        case (.body, .released): next = .idle
        case (.connecting, .connectedWithoutTransfer): next = .idle
        case (_, .close): next = .closed
        default: next = nil
        }
        guard let next else { return false }
        state = next
        tlsWait = .none
        return true
    }

    /// What the socket waits for now; nothing while the transfer's reader lags (`paused`). An
    /// idle connection is watched for the server closing it.
    func interest(paused: Bool) -> Interest {
        let phase: Interest
        switch state {
        case .connecting, .closed: return .none
        case .idle: return .read
        case .sending: phase = .readWrite
        case .handshaking, .head, .body: phase = .read
        }
        if paused && (state == .head || state == .body) { return .none }
        switch tlsWait {
        case .none: return phase
        case .read: return .read
        case .write: return state == .sending ? .readWrite : .write
        }
    }
}
