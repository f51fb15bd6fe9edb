import Foundation

/// Where and how to connect: parsed from an `amqp://` or `amqps://` URI.
public struct AMQPConfiguration: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var virtualHost: String
    /// TLS settings; `nil` for plain TCP (`amqp://`).
    public var tls: TLS?
    /// Seconds between heartbeats (0 disables them).
    public var heartbeatSeconds: Int
    public var connectTimeoutSeconds: Int
    /// Shown in the broker's management as the connection's name.
    public var connectionName: String
    /// Back-off between reconnection attempts: doubles from the first to the last.
    public var reconnectDelay: ClosedRange<Duration>
    /// Published messages that name no `user_id` carry this connection's user: RabbitMQ refuses
    /// one whose `user_id` is not the connection's, so a consumer knows truthfully who published
    /// it (Covenant's tenant authorization rests on it). Off only to test a message without one.
    public var stampsUserId = true

    public struct TLS: Sendable {
        public var caFile: String?
        public var certificateFile: String?
        public var keyFile: String?
        /// Check the broker's certificate chain (on by default).
        public var verifyPeer: Bool
        /// Check the broker's certificate names the host (on by default).
        public var verifyHostname: Bool

        public init(
            caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, verifyPeer: Bool = true,
            verifyHostname: Bool = true
        ) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.verifyPeer = verifyPeer
            self.verifyHostname = verifyHostname
        }
    }

    /// Parses `amqp[s]://user:password@host:port/vhost`. Missing parts take AMQP's defaults
    /// (guest, port 5672 or 5671, vhost `/`); user, password and vhost are percent-decoded
    /// (`%2F` is `/`).
    public init(
        url: String, connectionName: String = "covenant", tls: TLS = TLS(), heartbeatSeconds: Int = 30,
        connectTimeoutSeconds: Int = 10
    ) throws(AMQPError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "amqp" || scheme == "amqps"
        else {
            throw AMQPError(.invalidConfiguration, "the AMQP URL must start with amqp:// or amqps://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw AMQPError(.invalidConfiguration, "the AMQP URL names no host")
        }
        self.host = host
        self.port = components.port ?? (scheme == "amqps" ? 5671 : 5672)
        self.user = components.user?.removingPercentEncoding ?? "guest"
        self.password = components.password?.removingPercentEncoding ?? "guest"
        let path = components.percentEncodedPath
        let vhost = path.isEmpty || path == "/" ? "/" : String(path.dropFirst())
        guard let decoded = vhost.removingPercentEncoding, vhost == "/" || !decoded.isEmpty else {
            throw AMQPError(.invalidConfiguration, "the AMQP URL's virtual host cannot be decoded")
        }
        self.virtualHost = vhost == "/" ? "/" : decoded
        self.tls = scheme == "amqps" ? tls : nil
        self.heartbeatSeconds = heartbeatSeconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.connectionName = connectionName
        self.reconnectDelay = .milliseconds(100)...(.seconds(5))
    }

    /// The URL without its password.
    public var description: String {
        "\(tls == nil ? "amqp" : "amqps")://\(user):***@\(host):\(port)/\(virtualHost == "/" ? "" : virtualHost)"
    }
}
