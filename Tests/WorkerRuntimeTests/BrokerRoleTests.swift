import Foundation
import PropertyBased
import Testing
import WorkerRuntime

@Suite("Broker roles: what a tenant's users may touch, as RabbitMQ's permission patterns")
struct BrokerRoleTests {
    /// Whether `pattern` finds a match in `name`, as RabbitMQ applies a permission (unanchored
    /// search; the patterns anchor themselves).
    static func allows(_ pattern: String, _ name: String) -> Bool {
        let expression = try! NSRegularExpression(pattern: pattern)
        return expression.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
    }

    /// Tenant ids that are prefixes of one another, or differ by a `-`.
    static let pool = ["a", "ab", "a-b", "abc", "acme", "acme-2", "b_1", "B"]
    static let tenants = Gen.int(in: 0...(pool.count - 1)).map { pool[$0] }

    @Test("An integrator binds exactly its tenants' keys: never another's, a prefix's, `#` or `*.…`")
    func integratorTopics() async {
        await propertyCheck(count: 300, input: Self.tenants.array(of: 1...3), Self.tenants) { granted, other in
            let topic = BrokerRole.integrator.permissions(user: "acme-integrator", tenants: granted).topicRead!
            for key in ["\(other).invoice.ready", "\(other).#", "\(other).contract.expiring"] {
                #expect(Self.allows(topic, key) == granted.contains(other), "\(topic) on \(key)")
            }
            for key in ["#", "*.invoice.ready", "*.#", "covenant.command.rejected"] {
                #expect(!Self.allows(topic, key), "\(topic) on \(key)")
            }
        }
    }

    @Test("An integrator declares and reads only queues named after itself, and reads covenant.events alone")
    func integratorResources() {
        for user in ["acme-integrator", "a.b+c"] {
            let permissions = BrokerRole.integrator.permissions(user: user, tenants: ["acme"])
            for pattern in [permissions.configure, permissions.write] {
                #expect(Self.allows(pattern, "\(user).watch-1"))
                for name in ["\(user)x.q", "covenant.rating", "amq.gen-1", "covenant.events", "x\(user).q"] {
                    #expect(!Self.allows(pattern, name), "\(pattern) on \(name)")
                }
            }
            #expect(Self.allows(permissions.read, "covenant.events") && Self.allows(permissions.read, "\(user).q"))
            for name in ["covenant.internal", "covenant.commands", "covenant.dead", "covenant.rating.dead"] {
                #expect(!Self.allows(permissions.read, name), "\(permissions.read) on \(name)")
            }
        }
        // The user's name is taken literally: `a.b+c` does not open `aXbbc.q`.
        #expect(!Self.allows(BrokerRole.integrator.permissions(user: "a.b+c", tenants: ["x"]).configure, "aXbbc.q"))
    }

    @Test("An upstream user writes covenant.commands and nothing else, and declares and reads nothing")
    func upstream() {
        let permissions = BrokerRole.upstream.permissions(user: "acme-upstream", tenants: ["acme"])
        #expect(Self.allows(permissions.write, "covenant.commands"))
        for name in ["covenant.events", "covenant.internal", "amq.default", "covenant.commandsx", "covenant.rating"] {
            #expect(!Self.allows(permissions.write, name), "\(name)")
        }
        for name in ["covenant.commands", "covenant.events", "acme-upstream.q"] {
            #expect(!Self.allows(permissions.configure, name) && !Self.allows(permissions.read, name))
        }
        #expect(permissions.topicRead == nil)
    }
}
