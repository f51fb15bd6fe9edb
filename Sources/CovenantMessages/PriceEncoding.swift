public import BillingDomain

/// Usage prices as the interface's JSON (`usage_prices` items), both ways.
public enum PriceEncoding {
    public static func usagePrice(_ price: UsagePrice) -> JSONValue {
        var fields: JSONObject = ["metric": .string(price.metric)]
        func decimal(_ value: Rational) -> JSONValue { .string(value.exactDecimalText ?? "\(value)") }
        func tiers(_ tiers: [PriceTier]) -> JSONValue {
            .array(
                tiers.map {
                    .object([
                        "up_to": $0.upTo.map(decimal) ?? .null, "unit_price": decimal($0.unitPrice),
                        "flat_amount": decimal($0.flatAmount),
                    ])
                })
        }
        switch price.model {
        case .perUnit(let unitPrice):
            fields["model"] = .string("per_unit")
            fields["unit_price"] = decimal(unitPrice)
        case .graduated(let list):
            fields["model"] = .string("graduated")
            fields["tiers"] = tiers(list)
        case .volume(let list):
            fields["model"] = .string("volume")
            fields["tiers"] = tiers(list)
        case .package(let size, let unitPrice):
            fields["model"] = .string("package")
            fields["package_size"] = decimal(size)
            fields["unit_price"] = decimal(unitPrice)
        }
        return .object(fields)
    }

    public static func decodeUsagePrice(_ json: JSONValue) throws(Rejection) -> UsagePrice {
        try PlanDecoding.usagePrice(try Fields(json, path: "usage_price"))
    }
}
