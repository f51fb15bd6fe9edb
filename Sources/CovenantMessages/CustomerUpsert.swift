public import BillingDomain

/// `customer.upsert`: a customer's billing profile, replacing the one kept.
public struct CustomerUpsert: Sendable, Hashable {
    public static let type = "customer.upsert"
    public static let updated = "customer.updated"

    public var customerId: String
    public var profile: CustomerProfile

    init(_ data: Fields) throws(Rejection) {
        customerId = try data.string("customer_id")
        profile = try Self.profile(data)
    }

    /// The profile of an upsert's data, or of the stored copy of it.
    public static func profile(_ data: Fields) throws(Rejection) -> CustomerProfile {
        var profile = CustomerProfile(
            name: try data.string("name"), email: try data.optionalString("email"),
            taxId: try data.optionalString("tax_id"),
            grouping: data.has("invoice_grouping")
                ? try data.choice("invoice_grouping", of: CustomerProfile.Grouping.self) : .combined,
            paymentTermsDays: try data.optionalInt("payment_terms_days", in: 0...365))
        if let address = try data.optionalObject("address") {
            profile.address = try BillingSettingsCoding.address(address)
        }
        let exempt = data.has("tax_exempt") ? try data.bool("tax_exempt") : false
        let codes = data.has("tax_codes") ? try data.strings("tax_codes") : nil
        switch (exempt, codes) {
        case (true, let codes?) where !codes.isEmpty:
            throw Rejection(.invalidMessage, "\(data.path): a tax-exempt customer names no tax_codes")
        case (true, _): profile.taxes = .exempt
        case (false, let codes?):
            guard codes.count <= 20, Set(codes).count == codes.count else {
                throw Rejection(.invalidMessage, "\(data.path).tax_codes: at most 20 codes, each once")
            }
            profile.taxes = .codes(codes)
        case (false, nil): profile.taxes = .tenantDefaults
        }
        return profile
    }

    /// A profile of the stored data of an upsert (as `customer.updated` publishes it).
    public static func profile(stored data: JSONValue) -> Result<CustomerProfile, Rejection> {
        Result { () throws(Rejection) in try profile(Fields(data, path: "customer")) }
    }
}
