import BillingDomain
import CovenantMessages
import Testing

@Suite("Event payloads")
struct EventPayloadTests {
    /// The `invoice.ready` example of `spec/amqp-api.md`, ids aside, with the fields every final
    /// invoice also carries (`number`, `due_date`, `tax_total`, `amount_due`, each line's `taxes`).
    static let specExample = """
        {
          "invoice_id": "INV-cust-1-20250201-INR", "customer_id": "cust-1", "currency": "INR", "issue_date": "2025-02-01",
          "lines": [
            {"type": "recurring", "service_id": "vm-1", "contract_id": "c-1",
             "period": {"start": "2025-01-15", "end": "2025-02-01"},
             "description": "VM Standard, 15–31 Jan 2025",
             "gross_amount": "548.39", "discount_amount": "54.84", "amount": "493.55", "taxes": []}
          ],
          "subtotal": "548.39", "discount_total": "54.84", "total": "493.55",
          "number": "INV-000001", "due_date": "2025-03-03", "tax_total": "0.00", "amount_due": "493.55"
        }
        """

    @Test("invoice.ready for the worked example is the interface's example")
    func invoiceReady() throws {
        let tenant = Tenant(
            id: "acme", name: "Acme", platformLicense: PlatformLicense(kind: .virtual, status: .active),
            serviceContractsEnabled: true)
        let inr = Currency(code: "INR")!
        let plan = try Plan.validated(
            id: "vm-standard", name: "VM Standard", currency: inr,
            monthlyFee: Money(decimal: "1000.00", currency: inr)!,
            serviceType: "vm"
        ).get()
        let contract = try Contract.sign(
            id: "c-1", customerId: "cust-1", serviceId: "vm-1", plan: plan, tenant: tenant, paymentMode: .postpaid,
            start: CalendarDate(year: 2025, month: 1, day: 15)!,
            terms: ContractTerms(termMonths: 12, discountPercent: Rational(10))
        ).get()
        var ledger = CustomerLedger(customerId: "cust-1")
        ledger.record(contract)
        let invoice = try #require(ledger.runBilling(asOf: CalendarDate(year: 2025, month: 2, day: 1)!).first)
            .finalised(number: "INV-000001", dueDate: CalendarDate(year: 2025, month: 3, day: 3)!, taxes: [])
        #expect(EventPayloads.invoiceReady(invoice) == JSONValue.parse(Array(Self.specExample.utf8)))
    }

    @Test("A billed invoice names its customer as its profile stood, and the settings' revision; no profile, no name")
    func billed() throws {
        let inr = Currency(code: "INR")!
        let invoice = try Invoice(
            id: "INV-1", customerId: "cust-1", currency: inr, issueDate: CalendarDate(year: 2025, month: 2, day: 1)!,
            lines: [])
        let profile = CustomerProfile(
            name: "Globex", email: "a@globex.example",
            address: PostalAddress(line1: "1 MG Road", city: "Bengaluru", postalCode: "560001", country: "IN"),
            taxId: "29AAGCG4321K1Z8")
        let data = EventPayloads.invoiceReady(invoice.billed(to: profile, settingsRevision: 7))
        #expect(data["tenant_revision"] == .number("7"))
        #expect(
            data["customer"]?["name"] == .string("Globex") && data["customer"]?["tax_id"] == .string("29AAGCG4321K1Z8"))
        #expect(data["customer"]?["email"] == nil && data["customer"]?["address"]?["postal_code"] == .string("560001"))
        #expect(data["customer"]?["address"]?["line2"] == nil)
        let unnamed = EventPayloads.invoiceReady(invoice.billed(to: CustomerProfile(), settingsRevision: nil))
        #expect(unnamed["customer"] == nil && unnamed["tenant_revision"] == nil)
    }

    @Test("Shortfall lines carry committed, actual and shortfall; quantities read as decimals")
    func figures() {
        #expect(EventPayloads.figure(Rational(1700, 31)) == "54.838710")
        #expect(EventPayloads.figure(Rational(decimal: "12.5")!) == "12.5")
        #expect(EventPayloads.figure(Rational(100)) == "100")
        // Exact up to 6 decimals; 7 round half up to 6.
        #expect(EventPayloads.figure(Rational(decimal: "1234.123456")!) == "1234.123456")
        #expect(EventPayloads.figure(Rational(decimal: "0.1234565")!) == "0.123457")
    }

    @Test("command.rejected carries the code, the message and its details")
    func rejected() {
        let payload = EventPayloads.commandRejected(
            commandId: "cmd-9", commandType: "service.cancel",
            Rejection(.cancellationBlocked, "not before 2025-07-15", details: ["earliest_allowed_date": "2025-07-15"]))
        #expect(payload["code"] == .string("cancellation_blocked"))
        #expect(payload["earliest_allowed_date"] == .string("2025-07-15"))
        #expect(payload["command_id"] == .string("cmd-9"))
    }
}
