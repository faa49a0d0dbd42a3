/// The `CURLcode`s this transport tells apart, by name (libcurl's `curl.h` numbering).
enum CurlCode: Int32 {
    case ok = 0
    case unsupportedProtocol = 1
    case urlMalformat = 3
    case couldntResolveProxy = 5
    case couldntResolveHost = 6
    case couldntConnect = 7
    case weirdServerReply = 8
    case http2 = 16
    case partialFile = 18
    case writeError = 23
    case readError = 26
    case operationTimedOut = 28
    case sslConnectError = 35
    /// A callback asked to stop: our read callback (producer failed, file too short, cancel).
    case abortedByCallback = 42
    case sslEngineNotFound = 53
    case sslEngineSetFailed = 54
    case peerFailedVerification = 60
    case useSSLFailed = 64
    case sslEngineInitFailed = 66
    case gotNothing = 52
    case sendError = 55
    case recvError = 56
    case sslCertProblem = 58
    case sslCipher = 59
    case sslCACert = 77
    case sslShutdownFailed = 80
    case sslCRLBadFile = 82
    case sslIssuerError = 83
    case sslPinnedPubKeyNotMatch = 90
    case sslInvalidCertStatus = 91
    case http2Stream = 92
    case http3 = 95
    case quicConnectError = 96
    case sslClientCert = 98
    case unrecoverablePoll = 99
    case tooLarge = 100

    /// The category of a failure with this code.
    var kind: HTTPTransportError.Kind {
        switch self {
        case .couldntConnect: return .connectionRefused
        case .couldntResolveHost, .couldntResolveProxy: return .hostNotFound
        case .operationTimedOut: return .stalled  // refined to connectTimeout when no connection was made
        case .partialFile, .gotNothing, .sendError, .recvError: return .connectionBroken
        case .sslConnectError, .sslEngineNotFound, .sslEngineSetFailed, .useSSLFailed, .sslEngineInitFailed, .peerFailedVerification, .sslCertProblem, .sslCipher, .sslCACert, .sslShutdownFailed,
             .sslCRLBadFile, .sslIssuerError, .sslPinnedPubKeyNotMatch, .sslInvalidCertStatus, .sslClientCert:
            return .tls
        case .unsupportedProtocol, .urlMalformat, .weirdServerReply, .http2, .http2Stream, .tooLarge: return .protocolError
        case .readError, .abortedByCallback: return .requestBodyFailed
        default: return .other
        }
    }
}
