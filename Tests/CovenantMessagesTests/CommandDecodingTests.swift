import BillingDomain
import CovenantMessages
import Testing

/// An envelope around `data` (JSON text) of `type`.
func envelope(_ type: String, _ data: String, id: String = "cmd-1", tenant: String = "acme") -> [UInt8] {
    Array(
        """
        {"specversion":"1.0","id":"\(id)","source":"crm/eu-1","type":"\(type)","time":"2025-01-15T09:30:00Z",
         "tenantid":"\(tenant)","datacontenttype":"application/json","data":\(data)}
        """.utf8)
}

func decode(_ type: String, _ data: String) -> Result<Command, Rejection> {
    CloudEvent.decode(envelope(type, data)).flatMap(Command.decode)
}

func rejection(_ type: String, _ data: String) -> Rejection? {
    if case .failure(let rejection) = decode(type, data) { return rejection }
    return nil
}

@Suite("CloudEvents envelope")
struct CloudEventTests {
    @Test("A valid envelope decodes, and encodes back to the same event")
    func roundTrip() throws {
        let event = try CloudEvent.decode(envelope("billing.run", #"{"as_of":"2025-02-01"}"#)).get()
        #expect(event.id == "cmd-1" && event.type == "billing.run" && event.tenantId == "acme")
        #expect(try CloudEvent.decode(event.encoded()).get() == event)
    }

    @Test("An encoded envelope is its members as one object, keys sorted, with or without a causation id")
    func encodedBytes() throws {
        var event = try CloudEvent.decode(envelope("usage.rated", #"{"records":[{"b":"2","a":"1"}]}"#)).get()
        for causation in [nil, "cmd-0"] {
            event.causationId = causation
            var members: JSONObject = [
                "specversion": .string("1.0"), "id": .string(event.id), "source": .string(event.source),
                "type": .string(event.type), "time": .string(event.time), "tenantid": .string(event.tenantId),
                "datacontenttype": .string("application/json"), "data": event.data,
            ]
            if let causation { members["causationid"] = .string(causation) }
            let expected = String(decoding: JSONValue.object(members).serialized(), as: UTF8.self)
            #expect(String(decoding: event.encoded(), as: UTF8.self) == expected)
            let first = causation == nil ? #"{"data":{"records":[{"a":"1","b":"2"}]}"# : #"{"causationid":"#
            #expect(expected.hasPrefix(first))
        }
    }

    struct BadEnvelope: Sendable, CustomTestStringConvertible {
        let name: String
        let body: String
        var testDescription: String { name }
    }

    @Test(
        "Broken envelopes are invalid_message",
        arguments: [
            BadEnvelope(name: "not JSON", body: "{not json"),
            BadEnvelope(name: "binary garbage", body: "\u{01}\u{02}\u{FF}"),
            BadEnvelope(name: "an array", body: "[]"),
            BadEnvelope(
                name: "no id",
                body:
                    #"{"specversion":"1.0","source":"s","type":"t","time":"2025-01-15T09:30:00Z","tenantid":"a","data":{}}"#
            ),
            BadEnvelope(
                name: "numeric id",
                body:
                    #"{"specversion":"1.0","id":7,"source":"s","type":"t","time":"2025-01-15T09:30:00Z","tenantid":"a","data":{}}"#
            ),
            BadEnvelope(
                name: "spec version 0.3",
                body:
                    #"{"specversion":"0.3","id":"x","source":"s","type":"t","time":"2025-01-15T09:30:00Z","tenantid":"a","data":{}}"#
            ),
            BadEnvelope(
                name: "impossible time",
                body:
                    #"{"specversion":"1.0","id":"x","source":"s","type":"t","time":"2025-02-30T09:30:00Z","tenantid":"a","data":{}}"#
            ),
            BadEnvelope(
                name: "no tenant",
                body: #"{"specversion":"1.0","id":"x","source":"s","type":"t","time":"2025-01-15T09:30:00Z","data":{}}"#
            ),
            BadEnvelope(
                name: "U+0000 in a string",
                body:
                    #"{"specversion":"1.0","id":"x","source":"s","type":"t","time":"2025-01-15T09:30:00Z","tenantid":"a","data":{"b":"c\u0000"}}"#
            ),
            BadEnvelope(
                name: "U+0000 in a key",
                body:
                    #"{"specversion":"1.0","id":"x","source":"s","type":"t","time":"2025-01-15T09:30:00Z","tenantid":"a","data":{"\u0000":1}}"#
            ),
            BadEnvelope(
                name: "a slash in the tenant",
                body:
                    #"{"specversion":"1.0","id":"x","source":"s","type":"t","time":"2025-01-15T09:30:00Z","tenantid":"a/b","data":{}}"#
            ),
            BadEnvelope(
                name: "data not an object",
                body:
                    #"{"specversion":"1.0","id":"x","source":"s","type":"t","time":"2025-01-15T09:30:00Z","tenantid":"a","data":"x"}"#
            ),
            BadEnvelope(
                name: "XML data",
                body:
                    #"{"specversion":"1.0","id":"x","source":"s","type":"t","time":"2025-01-15T09:30:00Z","tenantid":"a","datacontenttype":"application/xml","data":{}}"#
            ),
        ])
    func broken(_ example: BadEnvelope) {
        guard case .failure(let rejection) = CloudEvent.decode(Array(example.body.utf8)) else {
            Issue.record("accepted \(example.name)")
            return
        }
        #expect(rejection.code == .invalidMessage)
    }

    @Test("Deep nesting, trailing garbage and invalid UTF-8 are refused; numbers stay exact text")
    func parser() {
        #expect(
            JSONValue.parse(Array((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8))
                == nil)
        #expect(JSONValue.parse(Array(#"{"a":1} x"#.utf8)) == nil)
        // A key given twice keeps its last value, at any depth; objects inside arrays and
        // objects keep their own members.
        #expect(
            JSONValue.parse(Array(#"{"a":1,"b":{"c":"x","c":{"d":[{"e":1},{"e":2,"f":{}}]}},"a":4}"#.utf8))
                == .object([
                    "a": .number("4"),
                    "b": .object([
                        "c": .object([
                            "d": .array([
                                .object(["e": .number("1")]), .object(["e": .number("2"), "f": .object([:])]),
                            ])
                        ])
                    ]),
                ]))
        #expect(JSONValue.parse(Array(#"{"a":{"b":1},"c":}"#.utf8)) == nil)
        #expect(JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) == nil)
        #expect(
            JSONValue.parse(Array(#"{"q":0.1000000000000000055511151231257827}"#.utf8))?["q"]
                == .number("0.1000000000000000055511151231257827"))
        #expect(JSONValue.parse(Array(#""\u00e9\ud83d\ude00""#.utf8)) == .string("é😀"))
    }

    @Test("Strings with and without escapes read and write back the same; raw control characters are refused")
    func strings() {
        for text in [
            "", "plain", "é😀 ünïcode", "quote \" inside", "back\\slash", "line\nbreak\ttab", "\u{01}", "end\\",
        ] {
            let written = JSONValue.object(["k": .string(text)]).serialized()
            #expect(JSONValue.parse(written)?["k"] == .string(text), "\(text)")
        }
        #expect(JSONValue.parse(Array(#"{"k":"a\nb"}"#.utf8))?["k"] == .string("a\nb"))
        #expect(JSONValue.parse([0x22, 0x61, 0x0A, 0x62, 0x22]) == nil)
        #expect(JSONValue.parse([0x22, 0x61, 0x62]) == nil)
        #expect(JSONValue.parse([0x22, 0xFF, 0x22]) == nil)
        #expect(JSONValue.string("a\u{1F}").serialized() == Array(#""a\u001f""#.utf8))
    }
}

@Suite("Commands decoded from the interface's examples")
struct CommandDecodingTests {
    @Test("service.provision with the interface's contract example")
    func provision() throws {
        let data = """
            {"customer_id":"cust-1","service_id":"vm-1","plan_id":"vm-standard","start_date":"2025-01-15",
             "billing_model":"fixed_term","payment_mode":"postpaid",
             "contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10",
               "cancellation_deadline_months":6,"renewal":{"policy":"expire"},
               "early_termination":{"kind":"remainder"},"charge_to_service_id":"vm-1",
               "commitments":[
                 {"id":"spend","type":"invoice_amount","frequency_months":1,
                  "ramp":[{"from_window":1,"amount":"10000"},{"from_window":5,"amount":"20000"},{"from_window":9,"amount":"30000"}],
                  "penalty":{"kind":"charge"}},
                 {"id":"sms","type":"usage","metric":"sms_mo_mb","frequency_months":1,
                  "ramp":[{"from_window":1,"amount":"100"}],
                  "penalty":{"kind":"tiered","tiers":[{"up_to":"50","unit_price":"0.10"},{"up_to":null,"unit_price":"0.20"}]}}]}}
            """
        guard case .serviceProvision(let command) = try decode("service.provision", data).get() else {
            Issue.record("not a provision")
            return
        }
        let terms = try #require(command.contract)
        #expect(command.startDate == CalendarDate(year: 2025, month: 1, day: 15)!)
        #expect(terms.termMonths == 12 && terms.monthlyFee == Rational(decimal: "1000.00"))
        #expect(terms.discountPercent == Rational(10) && terms.cancellationDeadlineMonths == 6)
        #expect(terms.earlyTermination == .remainder && terms.chargeToServiceId == "vm-1")
        #expect(terms.commitments.map(\.id) == ["spend", "sms"])
        #expect(terms.commitments[0].committedAmount(window: 6) == Rational(20000))
        #expect(try terms.commitments[1].penaltyAmount(shortfall: Rational(60)) == Rational(7))  // 50×0.10 + 10×0.20
    }

    @Test("plan.upsert with term discounts and usage prices")
    func plan() throws {
        let data = """
            {"plan_id":"sim-payg","name":"SIM PAYG","currency":"INR","monthly_fee":"0","service_type":"sim",
             "bundle":["active_ops"],"capacity":{"bandwidth_mbps":100},"term_discounts":{"12":"5","36":"15"},
             "usage_prices":[{"metric":"gb","model":"per_unit","unit_price":"0.10"},
               {"metric":"sms","model":"graduated","tiers":[{"up_to":"10","unit_price":"10","flat_amount":"2"},{"up_to":null,"unit_price":"5"}]},
               {"metric":"calls","model":"package","package_size":"100","unit_price":"5"}]}
            """
        guard case .planUpsert(let plan) = try decode("plan.upsert", data).get() else {
            Issue.record("not a plan")
            return
        }
        #expect(plan.termDiscounts[36] == Rational(15) && plan.capacity["bandwidth_mbps"] == "100")
        #expect(plan.usagePrices["sms"]?.price(of: Rational(11)) == Rational(107))
    }

    struct RejectionCase: Sendable, CustomTestStringConvertible {
        let name: String
        let type: String
        let data: String
        let code: RejectionCode
        var testDescription: String { name }
    }

    @Test(
        "Each broken rule is its own code",
        arguments: [
            RejectionCase(name: "unknown type", type: "service.pause", data: "{}", code: .unknownType),
            RejectionCase(name: "missing as_of", type: "billing.run", data: "{}", code: .invalidMessage),
            RejectionCase(
                name: "impossible date", type: "billing.run", data: #"{"as_of":"2025-02-30"}"#, code: .invalidMessage),
            RejectionCase(
                name: "negative quantity", type: "usage.record",
                data:
                    #"{"customer_id":"c","service_id":"s","metric":"gb","quantity":"-1","timestamp":"2025-01-15T09:30:00Z"}"#,
                code: .invalidQuantity),
            RejectionCase(
                name: "non-numeric quantity", type: "usage.record",
                data:
                    #"{"customer_id":"c","service_id":"s","metric":"gb","quantity":"lots","timestamp":"2025-01-15T09:30:00Z"}"#,
                code: .invalidQuantity),
            RejectionCase(
                name: "quantity as a JSON number", type: "usage.record",
                data:
                    #"{"customer_id":"c","service_id":"s","metric":"gb","quantity":12.5,"timestamp":"2025-01-15T09:30:00Z"}"#,
                code: .invalidQuantity),
            RejectionCase(
                name: "bad timestamp", type: "usage.record",
                data: #"{"customer_id":"c","service_id":"s","metric":"gb","quantity":"1","timestamp":"yesterday"}"#,
                code: .invalidMessage),
            RejectionCase(
                name: "term as a string", type: "service.provision",
                data:
                    #"{"customer_id":"c","service_id":"s","plan_id":"p","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":"12"}}"#,
                code: .invalidMessage),
            RejectionCase(
                name: "fixed term without a contract", type: "service.provision",
                data:
                    #"{"customer_id":"c","service_id":"s","plan_id":"p","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid"}"#,
                code: .invalidMessage),
            RejectionCase(
                name: "prepaid PAYG", type: "service.provision",
                data:
                    #"{"customer_id":"c","service_id":"s","plan_id":"p","start_date":"2025-01-15","billing_model":"payg","payment_mode":"prepaid"}"#,
                code: .prepaidNotSupported),
            RejectionCase(
                name: "charge penalty on usage", type: "service.provision",
                data:
                    #"{"customer_id":"c","service_id":"s","plan_id":"p","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"commitments":[{"id":"x","type":"usage","metric":"gb","frequency_months":1,"ramp":[{"from_window":1,"amount":"5"}],"penalty":{"kind":"charge"}}]}}"#,
                code: .invalidCommitment),
            RejectionCase(
                name: "unknown currency", type: "plan.upsert",
                data: #"{"plan_id":"p","name":"P","currency":"XXQ","monthly_fee":"1","service_type":"vm"}"#,
                code: .invalidMessage),
            RejectionCase(
                name: "fee finer than the currency", type: "plan.upsert",
                data: #"{"plan_id":"p","name":"P","currency":"JPY","monthly_fee":"1.5","service_type":"vm"}"#,
                code: .invalidMessage),
            RejectionCase(
                name: "unknown time zone", type: "tenant.upsert",
                data:
                    #"{"name":"A","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true,"time_zone":"Mars/Base"}"#,
                code: .invalidMessage),
            RejectionCase(
                name: "unknown license kind", type: "tenant.upsert",
                data:
                    #"{"name":"A","platform_license":{"kind":"cloud","status":"active"},"service_contracts_enabled":true}"#,
                code: .invalidMessage),
        ])
    func rejections(_ example: RejectionCase) {
        #expect(rejection(example.type, example.data)?.code == example.code)
    }

    @Test(
        "Ids must be in Unicode NFC (stores compare them byte for byte): a decomposed id in the envelope, a …_id field, a …_ids list or a metric is invalid_message; composed and ASCII ids are taken as they are"
    )
    func idsInNFC() throws {
        let composed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        func usage(customer: String = "c", service: String = "s", metric: String = "gb") -> String {
            #"{"customer_id":"\#(customer)","service_id":"\#(service)","metric":"\#(metric)","quantity":"1","timestamp":"2025-01-15T09:30:00Z"}"#
        }
        for data in [usage(customer: decomposed), usage(service: decomposed), usage(metric: decomposed)] {
            let refused = try #require(rejection("usage.record", data))
            #expect(refused.code == .invalidMessage && refused.message.contains("NFC"), "\(refused.message)")
        }
        guard case .usageRecord(let record) = try decode("usage.record", usage(service: composed)).get() else {
            Issue.record("not usage")
            return
        }
        #expect(Array(record.serviceId.utf8) == Array(composed.utf8))
        guard case .failure(let refused) = CloudEvent.decode(envelope("billing.run", "{}", id: decomposed)) else {
            Issue.record("a decomposed envelope id was taken")
            return
        }
        #expect(refused.code == .invalidMessage && refused.message.contains("NFC"))
        #expect((try? CloudEvent.decode(envelope("billing.run", "{}", id: composed)).get()) != nil)
        let fields = try Fields(.object(["service_ids": .array([.string("a"), .string(decomposed)])]), path: "data")
        #expect(throws: Rejection.self) { try fields.strings("service_ids") }
        #expect(Identifier.isNormalized(composed) && !Identifier.isNormalized(decomposed))
    }

    @Test("usage.record: the usage day is taken in the tenant's time zone")
    func usageDay() throws {
        let data =
            #"{"customer_id":"c","service_id":"s","metric":"gb","quantity":"1.5","timestamp":"2025-01-31T20:00:00Z"}"#
        guard case .usageRecord(let usage) = try decode("usage.record", data).get() else {
            Issue.record("not usage")
            return
        }
        #expect(usage.quantity == Rational(3, 2))
        #expect(
            usage.date(in: TenantTimeZone(identifier: "Asia/Kolkata")!) == CalendarDate(year: 2025, month: 2, day: 1)!)
        #expect(usage.date(in: .utc) == CalendarDate(year: 2025, month: 1, day: 31)!)
    }

    @Test("tenant.upsert with a webhook and the tri-annual option")
    func tenant() throws {
        let data = """
            {"name":"Acme MSP","platform_license":{"kind":"bare_metal","status":"active"},"service_contracts_enabled":true,
             "time_zone":"Asia/Kolkata","optional_terms":["tri_annual"],
             "notification":{"webhook_url":"https://hooks.acme.example/billing","webhook_secret":"s3cret-0123456789abcdefghij"}}
            """
        guard case .tenantUpsert(let upsert) = try decode("tenant.upsert", data).get() else {
            Issue.record("not a tenant")
            return
        }
        #expect(upsert.tenant.allowedTerms.contains(4) && upsert.tenant.platformLicense.kind == .bareMetal)
        #expect(
            upsert.webhookURL == "https://hooks.acme.example/billing"
                && upsert.webhookSecrets == ["s3cret-0123456789abcdefghij"])
    }
}
