import Foundation

/// What a user of each role may do at the broker (docs/api/amqp.md, "Tenant authorization"):
/// RabbitMQ's permissions, as regular expressions over resource names.
public enum BrokerRole: String, CaseIterable, Sendable {
    /// Writes `covenant.commands`, nothing else.
    case upstream
    /// Declares queues of its own (`<user>.…`) and binds them to its tenants' keys of
    /// `covenant.events` only.
    case integrator

    public struct Permissions: Equatable, Sendable {
        public var configure: String
        public var write: String
        public var read: String
        /// On `covenant.events`: the routing keys the user may bind (read); nil: none set.
        public var topicRead: String?
    }

    /// The permissions of `user` entitled to `tenants` (tenant ids: no character to escape).
    public func permissions(user: String, tenants: [String]) -> Permissions {
        let own = "^" + NSRegularExpression.escapedPattern(for: user) + "\\..*"
        switch self {
        case .upstream:
            return Permissions(configure: "^$", write: "^covenant\\.commands$", read: "^$", topicRead: nil)
        case .integrator:
            return Permissions(
                configure: own, write: own, read: "^(covenant\\.events|\(own.dropFirst()))$",
                topicRead: "^(\(tenants.sorted().joined(separator: "|")))\\.")
        }
    }
}
