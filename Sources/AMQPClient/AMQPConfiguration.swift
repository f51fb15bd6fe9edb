import Foundation

/// Where and how to connect: parsed from an `amqp://` or `amqps://` URI.
public struct AMQPConfiguration: Sendable, CustomStringConvertible {
    /// The broker's nodes: a connection is made to one of them, and on losing it, to another
    /// (``NodeRotation``). At least one.
    public var nodes: [Node]
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

    /// One node of a broker cluster.
    public struct Node: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// Parses `amqp[s]://user:password@host:port/vhost`, where `host:port` may be a
    /// comma-separated list of a cluster's nodes (`amqp://u:p@rabbit-1,rabbit-2:5673/`). Missing
    /// parts take AMQP's defaults (guest, port 5672 or 5671, vhost `/`); user, password and vhost
    /// are percent-decoded (`%2F` is `/`).
    public init(
        url: String, connectionName: String = "covenant", tls: TLS = TLS(), heartbeatSeconds: Int = 30,
        connectTimeoutSeconds: Int = 10
    ) throws(AMQPError) {
        try self.init(
            urls: [url], connectionName: connectionName, tls: tls, heartbeatSeconds: heartbeatSeconds,
            connectTimeoutSeconds: connectTimeoutSeconds)
    }

    /// Several URLs of one cluster (what a configuration file's list gives): each may name
    /// several nodes; all must agree on scheme, user, password and virtual host.
    public init(
        urls: [String], connectionName: String = "covenant", tls: TLS = TLS(), heartbeatSeconds: Int = 30,
        connectTimeoutSeconds: Int = 10
    ) throws(AMQPError) {
        var parsed: [ParsedURL] = []
        for url in urls {
            for single in try Self.singleNodeURLs(url) { parsed.append(try ParsedURL(single)) }
        }
        guard let first = parsed.first else { throw AMQPError(.invalidConfiguration, "no AMQP URL is given") }
        guard parsed.allSatisfy({ $0.sameBroker(as: first) }) else {
            throw AMQPError(
                .invalidConfiguration, "the AMQP URLs must agree on scheme, user, password and virtual host")
        }
        var nodes: [Node] = []
        for node in parsed.map(\.node) where !nodes.contains(node) { nodes.append(node) }
        self.nodes = nodes
        self.user = first.user
        self.password = first.password
        self.virtualHost = first.virtualHost
        self.tls = first.secure ? tls : nil
        self.heartbeatSeconds = heartbeatSeconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.connectionName = connectionName
        self.reconnectDelay = .milliseconds(100)...(.seconds(5))
    }

    /// `scheme://userinfo@a,b:5673/path` as `scheme://userinfo@a/path` and
    /// `scheme://userinfo@b:5673/path`.
    static func singleNodeURLs(_ url: String) throws(AMQPError) -> [String] {
        guard let schemeEnd = url.range(of: "://") else {
            throw AMQPError(.invalidConfiguration, "the AMQP URL must start with amqp:// or amqps://")
        }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let at = authority.lastIndex(of: "@")
        let userinfo = at.map { authority[...$0] } ?? ""
        let hosts = at.map { authority[authority.index(after: $0)...] } ?? authority
        let prefix = url[..<schemeEnd.upperBound] + userinfo
        let suffix = rest[authorityEnd...]
        let names = hosts.split(separator: ",", omittingEmptySubsequences: false)
        guard names.count == 1 || names.allSatisfy({ !$0.isEmpty }) else {
            throw AMQPError(.invalidConfiguration, "the AMQP URL's list of nodes has an empty entry")
        }
        return names.map { String(prefix + $0 + suffix) }
    }

    /// One node's URL, parsed.
    struct ParsedURL {
        let secure: Bool
        let node: Node
        let user: String
        let password: String
        let virtualHost: String

        init(_ url: String) throws(AMQPError) {
            guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
                scheme == "amqp" || scheme == "amqps"
            else {
                throw AMQPError(.invalidConfiguration, "the AMQP URL must start with amqp:// or amqps://")
            }
            guard var host = components.host, !host.isEmpty else {
                throw AMQPError(.invalidConfiguration, "the AMQP URL names no host")
            }
            // An IPv6 address without its brackets, as the resolver takes it.
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            secure = scheme == "amqps"
            node = Node(host: host, port: components.port ?? (secure ? 5671 : 5672))
            user = components.user?.removingPercentEncoding ?? "guest"
            password = components.password?.removingPercentEncoding ?? "guest"
            let path = components.percentEncodedPath
            let vhost = path.isEmpty || path == "/" ? "/" : String(path.dropFirst())
            guard let decoded = vhost.removingPercentEncoding, vhost == "/" || !decoded.isEmpty else {
                throw AMQPError(.invalidConfiguration, "the AMQP URL's virtual host cannot be decoded")
            }
            virtualHost = vhost == "/" ? "/" : decoded
        }

        func sameBroker(as other: ParsedURL) -> Bool {
            secure == other.secure && user == other.user && password == other.password
                && virtualHost == other.virtualHost
        }
    }

    /// The URL without its password.
    public var description: String {
        let hosts = nodes.map(\.description).joined(separator: ",")
        return "\(tls == nil ? "amqp" : "amqps")://\(user):***@\(hosts)/\(virtualHost == "/" ? "" : virtualHost)"
    }
}
