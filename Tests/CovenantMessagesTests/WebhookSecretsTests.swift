import BillingDomain
import CovenantMessages
import Testing

@Suite("Webhook secrets: one, or two during a rotation, and never kept in a dead letter")
struct WebhookSecretsTests {
    static func upsert(_ notification: String) -> CloudEvent {
        CloudEvent(
            id: "u-1", source: "tests", type: "tenant.upsert", time: "2025-01-15T09:30:00Z", tenantId: "acme",
            data: JSONValue.parse(
                Array(
                    #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true,"notification":\#(notification)}"#
                        .utf8))!)
    }

    func secrets(_ notification: String) -> [String]? {
        guard case .success(.tenantUpsert(let upsert)) = Command.decode(Self.upsert(notification)) else { return nil }
        return upsert.webhookSecrets
    }

    @Test("webhook_secret or webhook_secrets of one or two, each of 24 to 512 characters; else invalid_message")
    func decoding() {
        let old = String(repeating: "o", count: 24)
        let new = String(repeating: "n", count: 512)
        #expect(secrets(#"{"webhook_url":"https://h.example/x","webhook_secret":"\#(old)"}"#) == [old])
        #expect(
            secrets(#"{"webhook_url":"https://h.example/x","webhook_secrets":["\#(old)","\#(new)"]}"#) == [old, new])
        #expect(
            secrets(#"{"webhook_url":"https://h.example/x","webhook_secrets":["\#(old)","\#(old)","\#(new)"]}"#) == nil)
        #expect(secrets(#"{"webhook_url":"https://h.example/x","webhook_secrets":[]}"#) == nil)
        #expect(
            secrets(#"{"webhook_url":"https://h.example/x","webhook_secret":"\#(old)","webhook_secrets":["\#(new)"]}"#)
                == nil)
        #expect(secrets(#"{"webhook_url":"https://h.example/x","webhook_secret":""}"#) == nil)
        #expect(secrets(#"{"webhook_url":"https://h.example/x","webhook_secret":"\#(old.dropLast())"}"#) == nil)
        #expect(secrets(#"{"webhook_url":"https://h.example/x","webhook_secrets":["\#(old)","\#(new)n"]}"#) == nil)
        #expect(secrets(#"{"webhook_url":"https://h.example/x"}"#) == nil)
    }

    @Test("A dead letter's body keeps the upsert but not its secrets; other bodies are kept byte for byte")
    func redaction() throws {
        let body = Self.upsert(
            #"{"webhook_url":"https://h.example/x","webhook_secrets":["old-s3cret-0123456789abcdef","new-s3cret-0123456789abcdef"]}"#
        )
        .encoded()
        let kept = SecretRedaction.redacted(body)
        let text = String(decoding: kept, as: UTF8.self)
        #expect(!text.contains("s3cret"))
        let parsed = try #require(JSONValue.parse(kept))
        #expect(parsed["data"]?["notification"]?["webhook_url"] == .string("https://h.example/x"))
        #expect(parsed["data"]?["name"] == .string("Acme") && parsed["id"] == .string("u-1"))
        let plain = Array(#"{"id":"x","data":{"quantity":"1"}}"#.utf8)
        #expect(SecretRedaction.redacted(plain) == plain)
        let broken = Array(#"{"webhook_secret":"#.utf8)
        #expect(SecretRedaction.redacted(broken) == broken)
    }
}
