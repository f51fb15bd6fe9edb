import BillingDomain
import CovenantMessages
import WorkerRuntime
import WorkerStores

/// Customers' profiles, tenants' invoicing settings, and what they make of an invoice as it
/// becomes final: its legal number, due date and taxes.
extension InvoicingHandler {
    /// The documents that make invoices final: read by each issue, the numbering written.
    final class Profiles {
        /// `customer.upsert`'s data, keyed `tenant/customer`.
        let customers: BatchDocuments<CustomerProfile>
        /// The invoicing settings of `tenant.updated`, keyed by tenant, with its revision.
        let settings: BatchDocuments<BillingSettingsCoding.Revised>
        /// Each tenant's invoice numbers taken, keyed by tenant.
        let numbering: BatchDocuments<InvoiceNumbering>

        init(_ store: any InvoicingStore) {
            customers = .customerProfiles(in: store)
            settings = .tenantSettings(in: store)
            numbering = BatchDocuments(
                "numbering", in: store,
                decode: { json in
                    guard case .number(let text)? = json["invoices"], let taken = Int(text), taken >= 0 else {
                        throw Rejection(.invalidMessage, "numbering.invoices is not a count")
                    }
                    return InvoiceNumbering(taken: taken)
                }, encode: { .object(["invoices": .number(String($0.taken))]) })
        }
    }

    /// `invoices` made final in issue order, as the tenant's settings and each customer's
    /// profile stand now: split by service for a customer grouping `per_service`, numbered from
    /// the tenant's sequence, due after the payment terms, taxed, billed to the customer as its
    /// profile stands, under the settings' revision; and the numbering's write,
    /// which makes two finishes at once conflict instead of sharing a number.
    func finalise(
        _ invoices: [Invoice], tenant: String, profiles: Profiles
    ) async throws -> (
        [Invoice], [DocumentWrite]
    ) {
        guard !invoices.isEmpty else { return ([], []) }
        let revised = try await profiles.settings.value(tenant)
        let settings = revised?.settings ?? TenantBillingSettings()
        var numbering = try await profiles.numbering.value(tenant) ?? InvoiceNumbering()
        var final: [Invoice] = []
        for invoice in invoices {
            let profile =
                try await profiles.customers.value(Documents.key(tenant, invoice.customerId)) ?? CustomerProfile()
            let (taxes, dueDate) = profile.terms(under: settings, issuedOn: invoice.issueDate)
            for part in invoice.grouped(profile.grouping) {
                do {
                    final.append(
                        try part.finalised(
                            number: numbering.next(prefix: settings.profile.numberPrefix), dueDate: dueDate,
                            taxes: taxes
                        ).billed(to: profile, settingsRevision: revised?.revision))
                } catch {
                    throw Rejection(.invalidMessage, "the taxes of invoice \(part.id): \(error)")
                }
            }
        }
        return (final, profiles.numbering.writes([tenant: numbering]))
    }

    /// `tenant.updated`: the tenant's invoicing settings, kept when newer than those kept.
    func applyTenantSettings(_ event: CloudEvent, _ profiles: Profiles) async throws -> HandlerOutcome {
        .commit(UnitOfWork(messageId: nil, documents: try await profiles.settings.keeping(event)))
    }

    /// `customer.upsert`: the profile replaces the one kept, once every tax code it names is one
    /// of the tenant's; `customer.updated` says so.
    func upsertCustomer(_ event: CloudEvent, _ profiles: Profiles) async throws -> HandlerOutcome {
        let upsert: CustomerUpsert
        switch Command.decode(event) {
        case .success(.customerUpsert(let decoded)): upsert = decoded
        case .failure(let rejection): return .reject(rejection)
        case .success: return .reject(Rejection(.unknownType, "invoicing does not handle \(event.type)"))
        }
        guard let settings = try await profiles.settings.value(event.tenantId) else {
            // The tenant's `tenant.updated` may still be on its way from provisioning: about 12 s.
            return .rejectUnlessItArrives(
                Rejection(.unknownTenant, "tenant \(event.tenantId) does not exist"), attempts: 6, after: .seconds(2))
        }
        let unknown = upsert.profile.taxes.unknownCodes(among: settings.settings.taxes)
        guard unknown.isEmpty else {
            return .reject(
                Rejection(.unknownTaxCode, "the tenant lists no tax \(unknown.joined(separator: ", "))"))
        }
        var unit = try await store.replacing(
            kind: "customer", key: Documents.key(event.tenantId, upsert.customerId), with: event.data)
        unit.outbox = [
            events.event(
                CustomerUpsert.updated, tenantId: event.tenantId, causationId: event.id, data: event.data, time: now())
        ]
        return .commit(unit)
    }
}
