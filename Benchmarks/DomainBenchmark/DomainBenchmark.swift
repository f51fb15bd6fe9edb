import BillingDomain
import Foundation

/// Invoice lines composed per second by the pure domain on one core: `CUSTOMERS` customer
/// ledgers, each with a 12-month contract starting mid-month (a pro-rata first month, a term
/// discount) and a PAYG service with graduated usage on two metrics, billed month by month for a
/// year. Only the billing runs are timed; the ledgers are built before the clock starts.
///
///     domain-benchmark CUSTOMERS     prints lines per second, then lines and invoices
@main
struct DomainBenchmark {
    static func main() throws {
        let customers = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 10_000 : 10_000
        let inr = Currency(code: "INR")!
        let tenant = Tenant(
            id: "bench", name: "Bench", platformLicense: PlatformLicense(kind: .virtual, status: .active),
            serviceContractsEnabled: true, optionalTerms: [])
        let tiers = [
            PriceTier(upTo: Rational(100), unitPrice: Rational(decimal: "0.05")!),
            PriceTier(upTo: nil, unitPrice: Rational(decimal: "0.03")!),
        ]
        let prices = try ["mb", "sms"].map {
            try UsagePrice.validated(metric: $0, model: .graduated(tiers: tiers)).get()
        }
        let plan = try Plan.validated(
            id: "vm", name: "VM", currency: inr, monthlyFee: Money(decimal: "500.00", currency: inr)!,
            serviceType: "vm", termDiscounts: [12: Rational(5)], usagePrices: prices
        ).get()
        var ledgers: [CustomerLedger] = []
        ledgers.reserveCapacity(customers)
        let january = CalendarDate(year: 2025, month: 1, day: 1)!
        for n in 0..<customers {
            var ledger = CustomerLedger(customerId: "c\(n)")
            let contract = try Contract.sign(
                id: "k\(n)", customerId: "c\(n)", serviceId: "vm-\(n)", plan: plan, tenant: tenant,
                paymentMode: .postpaid, start: january.adding(days: 1 + n % 27),
                terms: ContractTerms(termMonths: 12, discountPercent: Rational(10))
            ).get()
            ledger.record(contract)
            for month in 0..<12 {
                for (index, price) in prices.enumerated() {
                    ledger.recordUsage(
                        serviceId: "sim-\(n)", metric: price.metric,
                        quantity: Rational(decimal: "\(1 + (n + month) % 300).\(index + 1)")!,
                        on: january.adding(months: month), price: price, currency: inr)
                }
            }
            ledgers.append(ledger)
        }
        var lines = 0
        var invoices = 0
        let start = ContinuousClock.now
        for month in 1...13 {
            let runDate = january.adding(months: month)
            for index in ledgers.indices {
                for invoice in ledgers[index].runBilling(asOf: runDate) {
                    lines += invoice.lines.count
                    invoices += 1
                }
            }
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("\(Int(Double(lines) / seconds)) \(lines) \(invoices)")
    }
}
