/// A fault talking to the broker. Descriptions never carry passwords or message bodies.
public struct AMQPError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The connection URI or TLS settings cannot be used.
        case invalidConfiguration
        /// The TCP or TLS connection could not be opened.
        case connectionFailed
        /// The broker refused the login.
        case authenticationFailed
        /// The connection was lost or closed by the broker.
        case connectionClosed
        /// The broker closed the channel (a declaration clash, an unknown queue…).
        case channelClosed
        /// The broker rejected a published message (`basic.nack`).
        case publishNacked
        /// The client was stopped before the operation finished.
        case shutdown
        /// A delivery's acknowledgement belonged to a connection that is gone; the broker
        /// redelivers the message.
        case staleDelivery
    }

    public let code: Code
    public let message: String
    /// The AMQP reply code when the broker closed something (404, 406, 320…).
    public let replyCode: Int?

    public init(_ code: Code, _ message: String, replyCode: Int? = nil) {
        self.code = code
        self.message = message
        self.replyCode = replyCode
    }

    /// Whether trying again later can succeed: a lost connection can, a refused login or a
    /// clashing declaration will not by itself.
    public var isRetryable: Bool {
        switch code {
        case .connectionFailed, .connectionClosed, .staleDelivery: true
        case .channelClosed: replyCode == nil || replyCode == 320 || replyCode == 541
        case .invalidConfiguration, .authenticationFailed, .publishNacked, .shutdown: false
        }
    }

    /// The same fault, its message naming the broker node it happened on.
    func at(_ node: AMQPConfiguration.Node) -> AMQPError {
        let prefix = "node \(node): "
        return message.hasPrefix(prefix) ? self : AMQPError(code, prefix + message, replyCode: replyCode)
    }

    public var description: String {
        "AMQP \(code.rawValue)\(replyCode.map { " (\($0))" } ?? ""): \(message)"
    }
}
