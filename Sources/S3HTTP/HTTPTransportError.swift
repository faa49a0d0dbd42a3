/// A failure below HTTP: connecting, TLS, a broken or stalled connection.
///
/// Says what happened and to which host, and keeps libcurl's code and message.
public struct HTTPTransportError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in categories a caller can act on.
    public enum Kind: String, Sendable {
        /// Nothing listens at the address (`ECONNREFUSED`).
        case connectionRefused
        /// The host name did not resolve.
        case hostNotFound
        /// The connection could not be made in time.
        case connectTimeout
        /// No byte moved for longer than the stall timeout.
        case stalled
        /// The connection broke (reset, closed early, send or receive failure).
        case connectionBroken
        /// TLS failed: handshake, certificate or verification.
        case tls
        /// The response was not valid HTTP.
        case protocolError
        /// The request body could not be read (file or producer failed).
        case requestBodyFailed
        /// The response body exceeded what the caller allowed.
        case bodyTooLarge
        /// The response body could not be written to the file it was going to (disk full, an
        /// I/O error): a local failure, not worth sending the request again.
        case responseWriteFailed
        /// The engine was shut down.
        case shutdown
        /// A second reader asked for the next chunk of a body while another was waiting: a
        /// body is read by one iterator at a time.
        case concurrentRead
        /// The request was refused before sending: a method or header that would not be one
        /// line on the wire (CR, LF, NUL, or a name that is not an HTTP token).
        case invalidRequest
        /// Anything else libcurl reported.
        case other
    }

    /// The category.
    public let kind: Kind
    /// `host[:port]` of the request.
    public let host: String
    /// libcurl's `CURLcode` (0 when the error did not come from curl).
    public let curlCode: Int32
    /// libcurl's message (or ours).
    public let message: String

    /// An error value.
    public init(kind: Kind, host: String, curlCode: Int32, message: String) {
        self.kind = kind
        self.host = host
        self.curlCode = curlCode
        self.message = message
    }

    /// Whether sending the same request again may succeed.
    public var isRetryable: Bool {
        switch kind {
        case .connectionRefused, .connectTimeout, .stalled, .connectionBroken, .hostNotFound: return true
        default: return false
        }
    }

    public var description: String {
        "transport error (\(kind.rawValue)) talking to \(host): \(message)" + (curlCode != 0 ? " [curl \(curlCode)]" : "")
    }

    /// Maps a `CURLcode` to a kind.
    static func kind(curlCode c: Int32) -> Kind {
        CurlCode(rawValue: c)?.kind ?? .other
    }
}
