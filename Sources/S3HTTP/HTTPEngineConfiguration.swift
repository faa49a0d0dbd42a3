import CCurl

/// Tunables of an ``HTTPEngine``. The defaults are measured on loopback and fit S3.
public struct HTTPEngineConfiguration: Sendable {
    /// Bytes a response may hold ahead of its reader before the transfer pauses (back-pressure).
    public var responseBufferLimit: Int = 2 << 20
    /// Bytes a streamed request body may queue ahead of the connection before its producer waits.
    public var requestBufferLimit: Int = 1 << 20
    /// libcurl's receive buffer (`CURLOPT_BUFFERSIZE`): the size of each socket read.
    public var receiveBufferSize: Int = 1 << 20
    /// libcurl's upload buffer (`CURLOPT_UPLOAD_BUFFERSIZE`), at most 2 MiB. curl allocates it
    /// afresh for each transfer, so a large one costs page faults on every part: 1 MiB spent
    /// 7% of a 1 GiB upload's CPU zeroing new pages; 256 KiB uploads as fast without that.
    public var uploadBufferSize: Int = 256 << 10
    /// How long to wait for a connection, in milliseconds.
    public var connectTimeoutMilliseconds: Int = 10_000
    /// A transfer moving no byte for this many seconds fails as `.stalled`.
    public var stallTimeoutSeconds: Int = 30
    /// At most this many connections to one host at a time; more requests wait their turn.
    /// Counted apart for the engine's own connections (``receivesDirectly``) and curl's; 0 for
    /// no limit.
    public var maxConnectionsPerHost: Int = 64
    /// Idle connections kept open for reuse.
    public var connectionCacheSize: Int = 64
    /// TLS settings.
    public var tls: TLS = TLS()
    /// Every request whose body is in memory (none, bytes, a part buffer) is written and read by
    /// the engine itself on a connection curl opened, and ranged downloads read each range
    /// straight from the socket into its part buffer or file. Over plain HTTP this skips curl's
    /// receive buffer, one copy of every byte; over HTTPS the engine does the TLS itself (same
    /// trust and checks as curl, ``tls``), decrypts several records per read instead of curl's
    /// one record per pass, and shares one TLS context and session cache among all its
    /// connections. Bodies sent from a file or a stream, requests with a time limit, and
    /// proxied connections always go through curl. `false` sends everything through curl.
    public var receivesDirectly: Bool = true

    /// TLS settings. Verification is on unless explicitly turned off.
    public struct TLS: Sendable {
        /// A PEM bundle of CA certificates to trust instead of the system's.
        public var caBundlePath: String?
        /// Skips certificate and host-name verification. Never use this in production: it makes
        /// the connection open to anyone in between.
        public var dangerouslyDisableCertificateVerification: Bool = false

        /// Default TLS settings: system trust store, full verification.
        public init(caBundlePath: String? = nil, dangerouslyDisableCertificateVerification: Bool = false) {
            self.caBundlePath = caBundlePath
            self.dangerouslyDisableCertificateVerification = dangerouslyDisableCertificateVerification
        }
    }

    /// The defaults.
    public init() {}
}

extension HTTPEngineConfiguration.TLS {
    /// Where trust comes from, the same on curl's path and the direct one: the configured bundle,
    /// else the bundle file this libcurl was built with; its CA directory only when it has no
    /// bundle file.
    ///
    /// Never both. With a CA directory set (Debian's libcurl has `/etc/ssl/certs` built in), curl
    /// 7.88 does not use its cached certificate store and parses the bundle again for every new
    /// connection: 63 parses for 64 connections, 0.35 ms each for a one-certificate bundle and
    /// 35 ms for the system's (this machine, OpenSSL 3.0). And a configured bundle is meant to be
    /// trusted instead of the system's, not beside its directory.
    var trustLocations: (file: String?, directory: String?) {
        let file = caBundlePath ?? s3_curl_default_cainfo().map { String(cString: $0) }
        return (file, file == nil ? s3_curl_default_capath().map { String(cString: $0) } : nil)
    }
}
