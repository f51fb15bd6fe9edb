/// A customer as one of its invoices names it: what its profile said when the invoice became
/// final. A later `customer.upsert` changes the customer, never what an invoice showed.
public struct BilledCustomer: Sendable, Hashable {
    public var name: String
    public var address: PostalAddress?
    public var taxId: String?

    public init(name: String, address: PostalAddress? = nil, taxId: String? = nil) {
        self.name = name
        self.address = address
        self.taxId = taxId
    }

    /// The profile's name, address and tax id; nil for a customer never upserted (no name).
    public init?(_ profile: CustomerProfile) {
        guard let name = profile.name else { return nil }
        self.init(name: name, address: profile.address, taxId: profile.taxId)
    }
}
