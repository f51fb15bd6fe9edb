import CovenantMessages
import Foundation
import NotificationWorker
import Testing

@Suite("tenant.configure: a tenant changes its own webhook, in provisioning's order")
struct TenantConfigureTests {
    /// `tenant.configure` `id` with `data`.
    static func configure(_ id: String, _ data: String) -> CloudEvent {
        CloudEvent(
            id: id, source: "tests", type: TenantConfigure.type, time: "2025-01-01T00:00:00Z", tenantId: "acme",
            data: JSONValue.parse(Array(data.utf8))!)
    }

    @Test("A webhook sent replaces the one kept; a configure without notification keeps it; null removes it")
    func ownWebhook() async throws {
        let notification = try await WebhookSettingsTests.Notification()
        try await notification.take(WebhookSettingsTests.upsert("u-1", url: "https://first.example/hook"))
        try await notification.take(WebhookSettingsTests.updated("u-1", revision: 1))
        #expect(try await notification.target() == "https://first.example/hook")

        let secret = #""webhook_secret":"tenant-own-secret-0123456789""#
        // Provisioning's tenant.updated first, the command after: applied all the same.
        try await notification.take(WebhookSettingsTests.updated("c-1", revision: 2))
        try await notification.take(
            Self.configure("c-1", #"{"notification":{"webhook_url":"https://own.example/hook",\#(secret)}}"#))
        #expect(try await notification.target() == "https://own.example/hook")
        #expect(notification.sender.requests.last?.headers["webhook-signature"]?.isEmpty == false)

        // Other settings only: the webhook stays.
        try await notification.take(Self.configure("c-2", #"{"payment_terms_days":14}"#))
        try await notification.take(WebhookSettingsTests.updated("c-2", revision: 3))
        #expect(try await notification.target() == "https://own.example/hook")

        // null stops the webhooks.
        try await notification.take(Self.configure("c-3", #"{"notification":null}"#))
        try await notification.take(WebhookSettingsTests.updated("c-3", revision: 4))
        #expect(try await notification.target() == nil)
    }

    @Test("A bad webhook in tenant.configure is invalid_message; a short secret too")
    func badWebhook() {
        for data in [
            #"{"notification":{"webhook_url":"ftp://x.example/","webhook_secret":"tenant-own-secret-0123456789"}}"#,
            #"{"notification":{"webhook_url":"https://x.example/","webhook_secret":"short"}}"#,
            #"{"notification":"https://x.example/"}"#,
        ] {
            guard case .failure(let rejection) = Command.decode(Self.configure("c", data)) else {
                Issue.record("\(data) was taken")
                continue
            }
            #expect(rejection.code == .invalidMessage)
        }
    }
}
