import BillingDomain
import Testing

/// Shorthands for the tests: a date, an exact decimal, money, and the spec's example tenant
/// and plans.
func date(_ text: String) -> CalendarDate {
    guard let date = CalendarDate(iso: text) else { fatalError("bad test date \(text)") }
    return date
}

func dec(_ text: String) -> Rational {
    guard let value = Rational(decimal: text) else { fatalError("bad test decimal \(text)") }
    return value
}

let inr = Currency(code: "INR")!
let usd = Currency(code: "USD")!
let jpy = Currency(code: "JPY")!
let bhd = Currency(code: "BHD")!

func money(_ text: String, _ currency: Currency = inr) -> Money {
    guard let value = Money(decimal: text, currency: currency) else { fatalError("bad test money \(text)") }
    return value
}

func period(_ start: String, _ end: String) -> BillingPeriod {
    BillingPeriod(start: date(start), end: date(end))
}

func tenant(
    contracts: Bool = true, license: PlatformLicense.Status = .active,
    optionalTerms: Set<OptionalTerm> = []
) -> Tenant {
    Tenant(
        id: "acme", name: "Acme MSP", platformLicense: PlatformLicense(kind: .virtual, status: license),
        serviceContractsEnabled: contracts, optionalTerms: optionalTerms)
}

func plan(
    _ id: String = "vm-standard", name: String = "VM Standard", fee: String = "1000.00",
    currency: Currency = inr, termDiscounts: [Int: String] = [:], usagePrices: [UsagePrice] = []
) -> Plan {
    try! Plan.validated(
        id: id, name: name, currency: currency, monthlyFee: money(fee, currency), serviceType: "vm",
        termDiscounts: termDiscounts.mapValues(dec), usagePrices: usagePrices
    ).get()
}

/// The spec's worked example: INR 1000.00 a month, 10 % discount, 12 months from 2025-01-15.
func workedExampleContract(
    id: String = "c-1", start: String = "2025-01-15", terms: ContractTerms? = nil,
    on plan: Plan = plan()
) -> Contract {
    let terms = terms ?? ContractTerms(termMonths: 12, monthlyFee: dec("1000.00"), discountPercent: dec("10"))
    return try! Contract.sign(
        id: id, customerId: "cust-1", serviceId: "vm-1", plan: plan, tenant: tenant(),
        paymentMode: .postpaid, start: date(start), terms: terms
    ).get()
}

/// A line's three amounts as text, for comparing with the spec's figures.
func amounts(_ line: InvoiceLine) -> [String] {
    [line.grossAmount.decimalText, line.discountAmount.decimalText, line.amount.decimalText]
}
