import BillingDomain

/// Prints the invoices of the spec's worked examples, computed by the billing domain.
@main
struct Demo {
    static func main() throws {
        let examples = WorkedExamples()
        let sections: [(String, () throws -> [Invoice])] = [
            ("Fixed-term contract: INR 1000.00/month, 10 % off, 12 months from 2025-01-15", examples.recurring),
            ("Plan change on 2025-02-15 to a INR 2000.00 plan", examples.planChange),
            ("PAYG SIM with graduated SMS pricing and late January usage", examples.payg),
            ("Cancellation effective 2025-08-10 with a remainder penalty", examples.cancellation),
            ("Contract with a INR 1500/month invoice-amount commitment and PAYG spend", examples.commitment),
        ]
        for (title, invoices) in sections {
            print("== \(title)\n")
            for invoice in try invoices() {
                print(InvoiceText.render(invoice))
            }
        }
    }
}
