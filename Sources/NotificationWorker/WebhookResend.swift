import BillingDomain
import CovenantMessages
import WorkerRuntime
import WorkerStores

/// A delivery given up, sent again on request: `webhook.resend` names the event, within the
/// envelope's tenant (`covenant webhook resend EVENT_ID --tenant T`).
///
/// Notification keeps each event it gave up on (a `failed_delivery` document, the event as it
/// was posted), so the receiver gets the same `webhook-id` and body, signed afresh. A resend is
/// one attempt, logged with the others: `notification.delivered` (the event is then no longer
/// kept), or `notification.failed` with its reason; the operator may send it again. Both follow
/// from the `webhook.resend` (`causationid`), so its sender knows which attempt they report.
extension NotificationHandler {
    static let failedKind = "failed_delivery"

    static func failedKey(tenant: String, eventId: String) -> String { "\(tenant)/\(eventId)" }

    /// The document that keeps a delivery given up.
    func givenUp(_ event: CloudEvent) async throws -> DocumentWrite {
        let key = Self.failedKey(tenant: event.tenantId, eventId: event.id)
        let kept = try await store.document(kind: Self.failedKind, key: key)
        return DocumentWrite(
            kind: Self.failedKind, key: key, body: event.encoded(), expectedVersion: kept?.version ?? 0)
    }

    func resend(_ command: CloudEvent) async throws -> HandlerOutcome {
        let eventId: String
        switch Command.decode(command) {
        case .success(.webhookResend(let id)): eventId = id
        case .failure(let rejection): return .reject(rejection)
        case .success: return .reject(Rejection(.unknownType, "notification takes no \(command.type)"))
        }
        guard
            let kept = try await store.document(
                kind: Self.failedKind, key: Self.failedKey(tenant: command.tenantId, eventId: eventId)),
            case .success(let event) = CloudEvent.decode(kept.body)
        else {
            return .reject(Rejection(.invalidMessage, "no delivery of event \(eventId) was given up for this tenant"))
        }
        guard let webhook = try await webhook(command.tenantId) else {
            return .reject(Rejection(.invalidMessage, "the tenant has no webhook to send event \(eventId) to"))
        }
        var outcome = try await deliver(event, to: webhook, lastAttempt: true, causationId: command.id)
        // Delivered: the event is no longer kept (nor posted again by a later resend).
        if case .commit(var unit) = outcome, unit.outbox.contains(where: { $0.type == "notification.delivered" }) {
            unit.documents.append(
                DocumentWrite(
                    kind: Self.failedKind, key: Self.failedKey(tenant: command.tenantId, eventId: eventId),
                    json: .object(["delivered": .bool(true)]), expectedVersion: kept.version))
            outcome = .commit(unit)
        }
        return outcome
    }
}
