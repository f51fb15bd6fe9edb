import BillingDomain
public import CovenantMessages
public import Foundation
public import WorkerRuntime
public import WorkerStores

/// Notification: delivers Covenant's events to each tenant's webhook, signed (see
/// ``WebhookSignature``), and keeps a delivery log of every attempt. A receiver that fails or
/// does not answer is tried again with growing delays (through the role's retry queues, so
/// other tenants' deliveries go on); after `maximumAttempts` the delivery is given up and
/// `notification.failed` says so. A delivered event publishes `notification.delivered`.
///
/// Delivery is at least once: a crash after the receiver answered and before the log is
/// committed posts the event again, with the same `webhook-id` for the receiver to recognise it.
public struct NotificationHandler: MessageHandler {
    let store: any NotificationStore
    let events: EventFactory
    let sender: any WebhookSender
    let now: @Sendable () -> Date
    let maximumAttempts: Int
    /// Seals the webhook secrets this worker stores.
    let sealer: SecretSealer

    public init(
        store: any NotificationStore, events: EventFactory, sender: any WebhookSender,
        now: @escaping @Sendable () -> Date = Date.init, maximumAttempts: Int = 8,
        sealer: SecretSealer = .unsealed
    ) {
        self.store = store
        self.events = events
        self.sender = sender
        self.now = now
        self.maximumAttempts = maximumAttempts
        self.sealer = sealer
    }

    /// Notification reads the webhook address and secret from the tenant's own command (the
    /// secret is never published in an event), and applies them in provisioning's order
    /// (``settingsEvents``).
    public static let commands = ["tenant.upsert", TenantConfigure.type, "webhook.resend"]
    /// Events that order a tenant's webhook settings: never delivered to a webhook.
    public static let settingsEvents = ["tenant.updated"]
    public static let subscribedEvents = [
        "invoice.ready", "billing.run.completed", ServiceEvent.contractActivated, ServiceEvent.contractPlanChanged,
        ServiceEvent.contractRenewed, "contract.expiring", ServiceEvent.contractExpired, ServiceEvent.contractCancelled,
        "command.rejected",
    ]

    public func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        if event.type == "tenant.upsert" || event.type == TenantConfigure.type { return try await configure(event) }
        if event.type == "tenant.updated" { return try await settle(event) }
        if event.type == "webhook.resend" { return try await resend(event) }
        return try await deliver(event, to: try await webhook(event.tenantId))
    }

    /// Events are taken in batches (a billing run sends one `invoice.ready` per customer).
    /// Tenants are delivered to concurrently, at most ``concurrentTenants`` at once, each
    /// tenant's events in order; once a tenant's receiver fails in a batch, its later events in
    /// that batch wait in the retry queue untried, so a dead endpoint costs a batch one delivery
    /// deadline and never holds up another tenant's deliveries. Each tenant's webhook is read once
    /// per batch, and the batch commits in one transaction. `tenant.upsert`, which changes the
    /// webhook, is never part of a batch.
    public var batchableTypes: Set<String> { Set(Self.subscribedEvents) }

    /// Tenants whose deliveries run at once in a batch.
    public static let concurrentTenants = 16

    public func handle(batch events: [CloudEvent]) async throws -> [HandlerOutcome] {
        var byTenant: [String: [Int]] = [:]
        var tenants: [String] = []
        for (index, event) in events.enumerated() {
            if byTenant[event.tenantId] == nil { tenants.append(event.tenantId) }
            byTenant[event.tenantId, default: []].append(index)
        }
        var outcomes = [HandlerOutcome?](repeating: nil, count: events.count)
        try await withThrowingTaskGroup(of: [(Int, HandlerOutcome)].self) { group in
            var next = 0
            func startNext() {
                guard next < tenants.count else { return }
                let indexes = byTenant[tenants[next]] ?? []
                next += 1
                group.addTask { try await deliverInOrder(indexes.map { ($0, events[$0]) }) }
            }
            for _ in 0..<min(Self.concurrentTenants, tenants.count) { startNext() }
            while let delivered = try await group.next() {
                for (index, outcome) in delivered { outcomes[index] = outcome }
                startNext()
            }
        }
        return outcomes.map { $0 ?? .commit(UnitOfWork(messageId: nil)) }
    }

    /// One tenant's events of a batch, in order; after a failed delivery the rest wait untried.
    private func deliverInOrder(_ events: [(Int, CloudEvent)]) async throws -> [(Int, HandlerOutcome)] {
        guard let tenant = events.first?.1.tenantId else { return [] }
        let target = try await webhook(tenant)
        var results: [(Int, HandlerOutcome)] = []
        var failed = false
        for (index, event) in events {
            if failed {
                results.append((index, .retryLater("the tenant's receiver failed in this batch", after: .seconds(1))))
                continue
            }
            let outcome = try await deliver(event, to: target)
            if case .retryLater = outcome { failed = true }
            results.append((index, outcome))
        }
        return results
    }

    /// One attempt; after a failure the delivery waits and is tried again, unless `lastAttempt`
    /// or the attempts are spent: it is then given up, and kept for ``resend(_:)``.
    func deliver(
        _ event: CloudEvent, to webhook: Webhook?, lastAttempt: Bool = false, causationId: String? = nil
    ) async throws
        -> HandlerOutcome
    {
        guard let webhook else { return .commit(UnitOfWork(messageId: nil)) }  // the tenant takes no webhooks
        let attempt = try await store.deliveries(eventId: event.id).count + 1
        let timestamp = Int64(now().timeIntervalSince1970)
        let body = event.encoded()
        let response = await sender.post(
            to: webhook.url,
            headers: [
                "Content-Type": CloudEvent.contentType, WebhookSignature.idHeader: event.id,
                WebhookSignature.timestampHeader: String(timestamp),
                WebhookSignature.signatureHeader: WebhookSignature.signature(
                    id: event.id, timestamp: timestamp, body: body, secrets: webhook.secrets),
            ], body: body)
        let record = DeliveryRecord(
            eventId: event.id, target: webhook.url, attempt: attempt,
            status: response.isDelivered ? "delivered" : "failed", responseCode: response.statusCode, at: timestamp)
        func outcome(failed: Bool) -> JSONValue {
            // A code, never an error's own text (it could name addresses inside the cluster).
            EventPayloads.notificationOutcome(
                eventId: event.id, eventType: event.type, url: webhook.url, attempts: attempt,
                failure: failed ? (response.reason, response.statusCode) : nil)
        }
        if response.isDelivered {
            return .commit(
                UnitOfWork(
                    messageId: nil, deliveries: [record],
                    outbox: [notification("notification.delivered", event, outcome(failed: false), causationId)]))
        }
        // An address refused, or a URL that cannot be called, fails at once: no retry mends it.
        guard attempt < maximumAttempts, !response.isFinal, !lastAttempt else {
            return .commit(
                UnitOfWork(
                    messageId: nil, documents: [try await givenUp(event)], deliveries: [record],
                    outbox: [notification("notification.failed", event, outcome(failed: true), causationId)]))
        }
        return .retryLater(
            "webhook attempt \(attempt) failed", after: Self.backoff(attempt: attempt),
            recording: UnitOfWork(messageId: nil, deliveries: [record]))
    }

    /// The waits between attempts, each a retry queue of the role: 1 s, 5 s, 30 s, 5 min,
    /// 30 min, 2 h, then 6 h; with ``maximumAttempts`` 8 a delivery is tried for about 8.6 hours.
    public static let retryDelaysMilliseconds = [1_000, 5_000, 30_000, 300_000, 1_800_000, 7_200_000, 21_600_000]

    /// The wait after attempt `attempt` (1 for the first).
    static func backoff(attempt: Int) -> Duration {
        .milliseconds(retryDelaysMilliseconds[min(max(attempt, 1), retryDelaysMilliseconds.count) - 1])
    }

    /// An outcome event, following from the delivered event, or from the command that asked
    /// for the attempt (`webhook.resend`).
    private func notification(
        _ type: String, _ event: CloudEvent, _ data: JSONValue, _ causationId: String? = nil
    )
        -> OutboxMessage
    {
        events.event(
            type, tenantId: event.tenantId, causationId: causationId ?? event.id, data: data, time: RFC3339.text(now()))
    }
}
