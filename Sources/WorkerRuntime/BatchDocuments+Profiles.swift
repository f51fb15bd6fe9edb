public import BillingDomain
public import CovenantMessages
public import WorkerStores

/// What the workers that follow a tenant's invoicing settings (invoicing, by tenant; documents,
/// by tenant and revision) and its customers' profiles (invoicing) keep of them, read the same
/// way by each: a stored document that cannot be read is a fault of the store (``StoreError``),
/// never a rejection of the message.
extension BatchDocuments where Value == BillingSettingsCoding.Revised {
    /// Tenants' invoicing settings as `tenant.updated` carried them: of `kind` (by default
    /// `tenant-billing`, keyed by tenant, the latest revision).
    public static func tenantSettings(
        in store: any DocumentStore, kind: String = "tenant-billing"
    ) -> BatchDocuments<BillingSettingsCoding.Revised> {
        BatchDocuments(
            kind, in: store, decode: BillingSettingsCoding.Revised.init(json:),
            encode: { _ in preconditionFailure("settings are written as their messages' data") })
    }

    /// `tenant.updated`: the write that keeps its settings, over the version read; none when the
    /// settings kept are of its revision or a later one (events may arrive out of order).
    public func keeping(_ event: CloudEvent) async throws -> [DocumentWrite] {
        let incoming = try BillingSettingsCoding.Revised(json: event.data)
        if let kept = try await value(event.tenantId), kept.revision >= incoming.revision { return [] }
        return [
            DocumentWrite(
                kind: kind, key: event.tenantId, json: BillingSettingsCoding.Revised.kept(event.data),
                expectedVersion: version(event.tenantId))
        ]
    }
}

extension BatchDocuments where Value == CustomerProfile {
    /// Customers' profiles, keyed `tenant/customer`: the data of their latest `customer.upsert`.
    public static func customerProfiles(in store: any DocumentStore) -> BatchDocuments<CustomerProfile> {
        BatchDocuments(
            "customer", in: store, decode: { try CustomerUpsert.profile(stored: $0).get() },
            encode: { _ in preconditionFailure("customers are written as their messages' data") })
    }
}
