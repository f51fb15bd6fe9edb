public import AMQPClient

/// What a worker says of one of its broker connections (the consumer's, the relay's) as it comes
/// and goes: a pure record of the node it is on, turning each connection event into the line to
/// log. A move to another node names both nodes.
public struct BrokerLinkLog: Sendable {
    public enum Line: Equatable, Sendable {
        /// The first connection.
        case connected(to: AMQPConfiguration.Node)
        /// The connection was lost; the rotation tries the next node.
        case lost(from: AMQPConfiguration.Node, reason: String)
        /// An attempt to connect failed (the reason names the node).
        case attemptFailed(reason: String)
        /// Connected again after a loss: to another node, or the same.
        case reconnected(to: AMQPConfiguration.Node, from: AMQPConfiguration.Node)
    }

    /// The node of the connection in place, if any.
    public private(set) var current: AMQPConfiguration.Node?
    /// The node last connected to, once a connection was lost.
    private var previous: AMQPConfiguration.Node?

    public init() {}

    public mutating func record(_ event: AMQPConnectionEvent) -> Line {
        switch event {
        case .connected(_, let node):
            defer {
                current = node
                previous = nil
            }
            guard let previous else { return .connected(to: node) }
            return .reconnected(to: node, from: previous)
        case .disconnected(let error):
            guard let lost = current else { return .attemptFailed(reason: error.description) }
            current = nil
            previous = lost
            return .lost(from: lost, reason: error.description)
        }
    }
}

extension BrokerLinkLog.Line {
    /// The line as logged, for the link named `link` ("consumer", "relay").
    public func text(link: String) -> String {
        switch self {
        case .connected(let node): "\(link) connected to broker node \(node)"
        case .lost(let node, let reason):
            "\(link) lost its connection to broker node \(node) (\(reason)); trying the next node"
        case .attemptFailed(let reason): "\(link) could not connect: \(reason)"
        case .reconnected(let node, let from) where node == from: "\(link) connected again to broker node \(node)"
        case .reconnected(let node, let from): "\(link) moved from broker node \(from) to broker node \(node)"
        }
    }
}
