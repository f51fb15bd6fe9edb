import BillingDomain
import Testing

@Suite("Usage pricing over a month's total")
struct UsagePriceTests {
    struct PriceCase: Sendable {
        let quantity: String
        let expected: String
    }

    /// Lago's graduated example (docs "Graduated pricing"): 0–10 @10 + flat 2, 11–20 @5 +
    /// flat 3, above @5 + flat 3. Lago's published totals: 0→2, 1→12, 10→102, 11→110,
    /// 12→115, 21→163.
    static let lagoGraduated = try! UsagePrice.validated(
        metric: "api_calls",
        model: .graduated(tiers: [
            PriceTier(upTo: dec("10"), unitPrice: dec("10"), flatAmount: dec("2")),
            PriceTier(upTo: dec("20"), unitPrice: dec("5"), flatAmount: dec("3")),
            PriceTier(upTo: nil, unitPrice: dec("5"), flatAmount: dec("3")),
        ])
    ).get()

    @Test(
        "Graduated: Lago's example",
        arguments: [
            PriceCase(quantity: "0", expected: "2"), PriceCase(quantity: "1", expected: "12"),
            PriceCase(quantity: "10", expected: "102"), PriceCase(quantity: "11", expected: "110"),
            PriceCase(quantity: "12", expected: "115"), PriceCase(quantity: "21", expected: "163"),
            // Hand-checked: 10.5 units = 10×10 + 2 + 0.5×5 + 3 = 107.5.
            PriceCase(quantity: "10.5", expected: "107.5"),
        ])
    func graduated(_ example: PriceCase) {
        #expect(Self.lagoGraduated.price(of: dec(example.quantity)) == dec(example.expected))
    }

    /// Lago's volume example (docs "Volume pricing"): up to 100 @2 + flat 10, up to 200 @1,
    /// above @0.5 + flat 50. Lago's totals: 0→10, 1→12, 100→210, 101→101, 300→200.
    static let lagoVolume = try! UsagePrice.validated(
        metric: "seats",
        model: .volume(tiers: [
            PriceTier(upTo: dec("100"), unitPrice: dec("2"), flatAmount: dec("10")),
            PriceTier(upTo: dec("200"), unitPrice: dec("1")),
            PriceTier(upTo: nil, unitPrice: dec("0.5"), flatAmount: dec("50")),
        ])
    ).get()

    @Test(
        "Volume: Lago's example, up_to inclusive",
        arguments: [
            PriceCase(quantity: "0", expected: "10"), PriceCase(quantity: "1", expected: "12"),
            PriceCase(quantity: "100", expected: "210"), PriceCase(quantity: "101", expected: "101"),
            PriceCase(quantity: "300", expected: "200"),
            // Hand-checked: 200 is still the second tier (inclusive): 200 × 1 = 200.
            PriceCase(quantity: "200", expected: "200"),
        ])
    func volume(_ example: PriceCase) {
        #expect(Self.lagoVolume.price(of: dec(example.quantity)) == dec(example.expected))
    }

    @Test(
        "Package: a price per started block (hand-checked: blocks of 100 at 5)",
        arguments: [
            PriceCase(quantity: "0", expected: "0"), PriceCase(quantity: "1", expected: "5"),
            PriceCase(quantity: "100", expected: "5"), PriceCase(quantity: "100.001", expected: "10"),
            PriceCase(quantity: "250", expected: "15"),
        ])
    func package(_ example: PriceCase) throws {
        let price = try UsagePrice.validated(
            metric: "sms", model: .package(packageSize: dec("100"), unitPrice: dec("5"))
        ).get()
        #expect(price.price(of: dec(example.quantity)) == dec(example.expected))
    }

    @Test("Per unit: quantity × unit price, exactly")
    func perUnit() throws {
        let price = try UsagePrice.validated(metric: "gb", model: .perUnit(unitPrice: dec("0.0125"))).get()
        #expect(price.price(of: dec("1234.5")) == dec("15.43125"))
        // Rounded once on the line: 15.43125 → 15.43 (INR).
        #expect(Money.rounding(price.price(of: dec("1234.5")), in: inr) == money("15.43"))
    }

    @Test("Graduated tiers price the bound's unit in the lower tier (up_to inclusive)")
    func inclusiveBound() throws {
        let price = try UsagePrice.validated(
            metric: "m",
            model: .graduated(tiers: [
                PriceTier(upTo: dec("100"), unitPrice: dec("1")), PriceTier(upTo: nil, unitPrice: dec("2")),
            ])
        ).get()
        #expect(price.price(of: dec("100")) == dec("100"))
        #expect(price.price(of: dec("101")) == dec("102"))
    }

    @Test("Unusable prices are rejected with invalid_message")
    func invalid() {
        let models: [PricingModel] = [
            .perUnit(unitPrice: dec("-1")),
            .package(packageSize: dec("0"), unitPrice: dec("1")),
            .graduated(tiers: []),
            .graduated(tiers: [PriceTier(upTo: dec("10"), unitPrice: dec("1"))]),
            .volume(tiers: [
                PriceTier(upTo: dec("10"), unitPrice: dec("1")), PriceTier(upTo: dec("5"), unitPrice: dec("1")),
                PriceTier(upTo: nil, unitPrice: dec("1")),
            ]),
            .volume(tiers: [PriceTier(upTo: nil, unitPrice: dec("1")), PriceTier(upTo: nil, unitPrice: dec("1"))]),
            .graduated(tiers: [PriceTier(upTo: nil, unitPrice: dec("1"), flatAmount: dec("-2"))]),
        ]
        for model in models {
            #expect(UsagePrice.validated(metric: "m", model: model).rejection?.code == .invalidMessage, "\(model)")
        }
        #expect(UsagePrice.validated(metric: "", model: .perUnit(unitPrice: .one)).rejection?.code == .invalidMessage)
    }
}
