import BillingDomain
import CovenantMessages
import WorkerRuntime
import WorkerStores

/// `access.grant` and `access.revoke` (operators only, checked by the runtime before they get
/// here): provisioning keeps each user's tenants and announces every change on the internal
/// exchange as `access.changed`, which every worker keeps in its own store.
extension ProvisioningHandler {
    static let accessGrantKind = "access_grant"

    func changeAccess(_ command: CloudEvent) async throws -> HandlerOutcome {
        let change: AccessChange
        do { change = try AccessChange(command) } catch { return .reject(error) }
        let kept = try await store.jsonDocument(kind: Self.accessGrantKind, key: change.user)
        var tenants: Set<String> = []
        if let (json, _) = kept {
            tenants = Set(
                try StoreError.readingStored(Self.accessGrantKind, change.user) {
                    try AccessChanged(Fields(json, path: "access")).tenants
                })
        }
        if change.grants { tenants.formUnion(change.tenants) } else { tenants.subtract(change.tenants) }
        let version = kept?.1 ?? 0
        let announced = AccessChanged(user: change.user, tenants: tenants.sorted(), revision: Int(version) + 1)
        return .commit(
            UnitOfWork(
                messageId: command.id,
                documents: [
                    DocumentWrite(
                        kind: Self.accessGrantKind, key: change.user, json: announced.data, expectedVersion: version)
                ],
                outbox: [
                    events.event(
                        AccessChanged.type, tenantId: CloudEvent.clusterTenant, causationId: command.id,
                        data: announced.data, time: now())
                ]))
    }
}
