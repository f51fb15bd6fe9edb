public import BillingDomain

/// Who may send a command for which tenant (docs/api/amqp.md, "Tenant authorization"): the one
/// check the broker cannot make. RabbitMQ vouches for the publisher (`user_id`); this says
/// whether that publisher is entitled to the envelope's tenant and to the command.
public enum Entitlement {
    /// Commands only operators send: creating a tenant (its licence, its contracts switch) and
    /// granting access.
    public static let operatorCommands = AccessChange.types.union(["tenant.upsert"])

    /// Why `publisher` may not send a `type` command for `tenant`; nil when it may. `grants`:
    /// the tenants granted to the publisher (unused for an operator).
    public static func refusal(
        publisher: String?, isOperator: Bool, type: String, tenant: String, grants: Set<String>
    ) -> Rejection? {
        guard let publisher, !publisher.isEmpty else {
            return Rejection(.forbidden, "the command has no user_id: its publisher is unknown")
        }
        if isOperator { return nil }
        if operatorCommands.contains(type) {
            return Rejection(.forbidden, "\(type) is an operator's command; \(publisher) is not an operator")
        }
        guard grants.contains(tenant) else {
            return Rejection(.forbidden, "\(publisher) is not entitled to tenant \(tenant)")
        }
        return nil
    }
}

/// `access.grant` and `access.revoke` (operators only): `user` gains or loses `tenants`.
public struct AccessChange: Sendable, Hashable {
    public static let grantType = "access.grant"
    public static let revokeType = "access.revoke"
    public static let types: Set<String> = [grantType, revokeType]

    /// Its command type, and the command's `data`, as ``init(_:)`` reads them.
    public var type: String { grants ? Self.grantType : Self.revokeType }
    public var data: JSONValue { .object(["user": .string(user), "tenants": .array(tenants.map(JSONValue.string))]) }

    public var user: String
    public var tenants: [String]
    public var grants: Bool

    public init(user: String, tenants: [String], grants: Bool) {
        self.user = user
        self.tenants = tenants
        self.grants = grants
    }

    /// The command's data: `user` (a broker user name, 1–255 bytes of printable ASCII without
    /// spaces) and `tenants` (1 to 1,000 tenant ids).
    public init(_ command: CloudEvent) throws(Rejection) {
        let fields = try Fields(command.data, path: "data")
        user = try fields.string("user")
        guard (1...255).contains(user.utf8.count), user.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw Rejection(.invalidMessage, "data.user must be 1 to 255 printable ASCII characters without spaces")
        }
        tenants = try fields.strings("tenants")
        guard (1...1_000).contains(tenants.count) else {
            throw Rejection(.invalidMessage, "data.tenants must name 1 to 1,000 tenants")
        }
        for tenant in tenants {
            if let problem = CloudEvent.tenantIdProblem(tenant) {
                throw Rejection(.invalidMessage, "data.tenants: \(problem)")
            }
            if tenant == CloudEvent.clusterTenant {
                throw Rejection(.invalidMessage, "data.tenants: \(tenant) is no tenant")
            }
        }
        grants = command.type == Self.grantType
    }
}

/// `access.changed` (provisioning → every worker, on the internal exchange, tenant `covenant`):
/// the tenants `user` is entitled to now, after grant or revoke number `revision`. A worker
/// keeps the highest revision it saw, so a late or repeated one changes nothing.
public struct AccessChanged: WorkerMessage {
    public static let type = "access.changed"

    public var user: String
    public var tenants: [String]
    public var revision: Int

    public init(user: String, tenants: [String], revision: Int) {
        self.user = user
        self.tenants = tenants
        self.revision = revision
    }

    public var data: JSONValue {
        .object([
            "user": .string(user), "tenants": .array(tenants.map(JSONValue.string)),
            "revision": .number(String(revision)),
        ])
    }

    public init(_ data: Fields) throws(Rejection) {
        user = try data.string("user")
        tenants = try data.strings("tenants")
        revision = try data.int("revision", in: 1...Int(Int32.max))
    }
}
