import CovenantMessages
import PropertyBased
import Testing

@Suite("Tenant ids: a word of a routing key")
struct TenantIdTests {
    static let allowed = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    /// Characters a tenant id may not hold: a routing key's separator and wildcards, a key's
    /// separator, space, a colon, non-ASCII letters (composed and decomposed), U+0000.
    static let refused = Array(".#*/ :~é\u{301}\u{0}")

    static func word(_ lengths: ClosedRange<Int>) -> Generator<String, some SendableSequenceType> {
        Gen.int(in: 0...(allowed.count - 1)).array(of: lengths).map { String($0.map { allowed[$0] }) }
    }
    static let refusedCharacter = Gen.int(in: 0...(refused.count - 1)).map { String(refused[$0]) }

    @Test("1 to 64 characters of A-Z a-z 0-9 _ - are a tenant id")
    func allowedIds() async {
        await propertyCheck(count: 300, input: Self.word(1...64)) { tenant in
            #expect(CloudEvent.tenantIdProblem(tenant) == nil)
        }
    }

    @Test("One character outside them, none, or 65 make an envelope invalid_message")
    func refusedIds() async {
        await propertyCheck(count: 300, input: Self.word(0...30), Self.refusedCharacter, Self.word(0...30)) {
            before, bad, after in
            let tenant = before + bad + after
            #expect(CloudEvent.tenantIdProblem(tenant) != nil, "\(tenant.debugDescription)")
            let body = envelope("billing.run", #"{"as_of":"2025-02-01"}"#, tenant: tenant)
            guard case .failure(let refused) = CloudEvent.decode(body) else {
                Issue.record("\(tenant.debugDescription) was taken")
                return
            }
            #expect(refused.code == .invalidMessage)
        }
        #expect(CloudEvent.tenantIdProblem("") != nil)
        #expect(CloudEvent.tenantIdProblem(String(repeating: "a", count: 65)) != nil)
    }

    @Test("A message's inbox key is its tenant and its id: the same id of two tenants is two keys")
    func inboxKeys() {
        let first = CloudEvent(
            id: "x", source: "s", type: "t", time: "2025-01-01T00:00:00Z", tenantId: "a", data: .null)
        var second = first
        second.tenantId = "b"
        #expect(first.inboxKey != second.inboxKey)
        // Unambiguous because a tenant id has no slash: `a/b` + `x` cannot pose as `a` + `b/x`.
        #expect(CloudEvent.tenantIdProblem("a/b") != nil)
    }
}
