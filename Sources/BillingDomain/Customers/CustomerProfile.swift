/// A customer's billing profile (`customer.upsert`). A customer that services name before any
/// upsert has the empty profile: its invoices show its id, it pays the tenant's default taxes,
/// on the tenant's payment terms, one invoice per currency and date.
public struct CustomerProfile: Sendable, Hashable {
    public enum Grouping: String, Sendable, Hashable, CaseIterable {
        /// One invoice per customer, currency and date.
        case combined
        /// One per service, currency and date.
        case perService = "per_service"
    }

    public var name: String?
    public var email: String?
    public var address: PostalAddress?
    public var taxId: String?
    public var taxes: TaxTreatment
    public var grouping: Grouping
    /// Days from issue to due date; `nil`: the tenant's.
    public var paymentTermsDays: Int?

    public init(
        name: String? = nil, email: String? = nil, address: PostalAddress? = nil, taxId: String? = nil,
        taxes: TaxTreatment = .tenantDefaults, grouping: Grouping = .combined, paymentTermsDays: Int? = nil
    ) {
        self.name = name
        self.email = email
        self.address = address
        self.taxId = taxId
        self.taxes = taxes
        self.grouping = grouping
        self.paymentTermsDays = paymentTermsDays
    }

    /// What makes one of this customer's invoices final under `settings`: the taxes that
    /// apply and the due date of an invoice issued on `issueDate`.
    public func terms(
        under settings: TenantBillingSettings, issuedOn issueDate: CalendarDate
    )
        -> (taxes: [TaxRate], dueDate: CalendarDate)
    {
        (taxes.applicable(from: settings.taxes), issueDate.adding(days: paymentTermsDays ?? settings.paymentTermsDays))
    }
}
