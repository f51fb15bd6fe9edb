import CovenantMessages
import Foundation
import NotificationWorker
import Testing
import WorkerRuntime
import WorkerStores

@Suite("webhook.resend: one more attempt of a delivery given up")
struct WebhookResendTests {
    @Test(
        "A given-up event is posted again, same id and body, freshly signed; another tenant's or an unknown one is rejected"
    )
    func resend() async throws {
        let sender = ScriptedSender(answers: [.status(503), .status(200)])
        let notification = try await WebhookSettingsTests.Notification(sender: sender, attempts: 1)
        try await notification.take(WebhookSettingsTests.upsert("u-1", url: "https://hooks.example/acme"))
        try await notification.take(WebhookSettingsTests.updated("u-1", revision: 1))
        let ready = CloudEvent(
            id: "e-1", source: "covenant/invoicing", type: "invoice.ready", time: "2025-02-01T00:00:00Z",
            tenantId: "acme", data: .object(["invoice_id": .string("INV-1")]))
        #expect(try await notification.take(ready) == ["notification.failed"])

        func resend(_ eventId: String, tenant: String = "acme") -> CloudEvent {
            CloudEvent(
                id: "r-\(UUID().uuidString)", source: "covenant-cli", type: "webhook.resend",
                time: "2025-02-02T00:00:00Z", tenantId: tenant, data: .object(["event_id": .string(eventId)]))
        }
        #expect(try await notification.take(resend("e-1")) == ["notification.delivered"])
        #expect(sender.requests.count == 2)
        #expect(sender.requests[0].body == sender.requests[1].body)
        #expect(sender.requests[1].headers["webhook-id"] == "e-1")
        let log = try await notification.store.deliveries(eventId: "e-1")
        #expect(log.map(\.attempt) == [1, 2] && log.map(\.status) == ["failed", "delivered"])

        // Unknown, another tenant's, or delivered by the resend already (no longer kept).
        for (eventId, tenant) in [("e-404", "acme"), ("e-1", "other"), ("e-1", "acme")] {
            guard case .reject(let rejection) = try await notification.handler.handle(resend(eventId, tenant: tenant))
            else {
                Issue.record("\(eventId) of \(tenant) was not rejected")
                continue
            }
            #expect(rejection.code == .invalidMessage)
        }
        #expect(sender.requests.count == 2)
    }
}
