import CovenantMessages
import Foundation
import NotificationWorker
import Testing
import WorkerRuntime
import WorkerStores

@Suite("Webhook settings: applied in provisioning's order, whatever order the messages come in")
struct WebhookSettingsTests {
    static let invoiceReady = #"{"invoice_id":"INV-1","total":"1.00"}"#

    /// A handler over a store of its own, and a receiver that answers 200.
    struct Notification {
        let store: SQLiteWorkerStore
        let sender: ScriptedSender
        let handler: NotificationHandler

        init(sender: ScriptedSender = ScriptedSender(answers: [.status(200)]), attempts: Int = 8) async throws {
            store = try SQLiteWorkerStore(
                directory: NSTemporaryDirectory() + "covenant-webhook-settings-\(UUID().uuidString)",
                role: .notification)
            try await store.migrate()
            self.sender = sender
            handler = NotificationHandler(
                store: store, events: EventFactory(source: "covenant/notification"), sender: sender,
                maximumAttempts: attempts)
        }

        /// Handles and commits one message, as the worker would; the types of the events it sent.
        @discardableResult
        func take(_ message: CloudEvent) async throws -> [String] {
            guard case .commit(var unit) = try await handler.handle(message) else {
                Issue.record("\(message.type) \(message.id) not taken")
                return []
            }
            unit.messageId = message.id
            _ = try await store.commit(unit)
            return unit.outbox.compactMap(\.type)
        }

        /// Where an `invoice.ready` is posted now (nil: nowhere).
        func target() async throws -> String? {
            let before = sender.requests.count
            try await take(
                CloudEvent(
                    id: "e-\(UUID().uuidString)", source: "covenant/invoicing", type: "invoice.ready",
                    time: "2025-02-01T00:00:00Z", tenantId: "acme",
                    data: JSONValue.parse(Array(invoiceReady.utf8))!))
            return sender.requests.count > before ? sender.requests.last?.url : nil
        }
    }

    /// `tenant.upsert` `id`, with a webhook at `url` signed with `secrets`, or none.
    static func upsert(
        _ id: String, url: String?, tenant: String = "acme",
        secrets: String = #""webhook_secret":"s3cret-0123456789abcdefghij""#
    ) -> CloudEvent {
        let notification = url.map { #","notification":{"webhook_url":"\#($0)",\#(secrets)}"# } ?? ""
        return CloudEvent(
            id: id, source: "tests", type: "tenant.upsert", time: "2025-01-01T00:00:00Z", tenantId: tenant,
            data: JSONValue.parse(
                Array(
                    #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true\#(notification)}"#
                        .utf8))!)
    }

    /// Provisioning's `tenant.updated` for upsert `id`, at `revision`.
    static func updated(_ id: String, revision: Int, tenant: String = "acme") -> CloudEvent {
        CloudEvent(
            id: "\(id)-updated", source: "covenant/provisioning", type: "tenant.updated",
            time: "2025-01-01T00:00:00Z", tenantId: tenant, causationId: id,
            data: .object(["name": .string("Acme"), "revision": .number(String(revision))]))
    }

    static func permutations<T>(_ items: [T]) -> [[T]] {
        guard items.count > 1 else { return [items] }
        return items.indices.flatMap { index in
            var rest = items
            let first = rest.remove(at: index)
            return permutations(rest).map { [first] + $0 }
        }
    }

    @Test(
        "Two upserts and their tenant.updated in all 24 orders: the webhook is always that of provisioning's later one")
    func everyOrder() async throws {
        // Provisioning applied "new" after "old": the commands' own times say the opposite.
        let messages = [
            Self.upsert("old", url: "https://old.example/hook"), Self.updated("old", revision: 1),
            Self.upsert("new", url: "https://new.example/hook"), Self.updated("new", revision: 2),
        ]
        for order in Self.permutations(messages) {
            let notification = try await Notification()
            for message in order { try await notification.take(message) }
            #expect(
                try await notification.target() == "https://new.example/hook",
                "order: \(order.map(\.id).joined(separator: ", "))")
        }
    }

    @Test("An upsert provisioning never applied (no tenant.updated) changes nothing; one without a webhook stops them")
    func onlyWhatProvisioningApplied() async throws {
        let notification = try await Notification()
        #expect(try await notification.target() == nil)
        try await notification.take(Self.upsert("first", url: "https://first.example/hook"))
        #expect(try await notification.target() == nil)
        try await notification.take(Self.updated("first", revision: 1))
        #expect(try await notification.target() == "https://first.example/hook")
        // Rejected by provisioning (say, for a bad field it checks): no tenant.updated follows.
        try await notification.take(Self.upsert("rejected", url: "https://attacker.example/hook"))
        #expect(try await notification.target() == "https://first.example/hook")
        try await notification.take(Self.updated("none", revision: 2))
        try await notification.take(Self.upsert("none", url: nil))
        #expect(try await notification.target() == nil)
        // A redelivered older tenant.updated changes nothing.
        try await notification.take(Self.updated("first", revision: 1))
        #expect(try await notification.target() == nil)
    }
}
