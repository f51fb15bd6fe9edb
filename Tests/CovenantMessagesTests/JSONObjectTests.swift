import CovenantMessages
import Testing

@Suite("JSON objects kept in key order")
struct JSONObjectTests {
    /// SplitMix64: the same operations on every run.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test("Members given in any order make one object: equal, same hash, same bytes, keys in order")
    func anyOrder() throws {
        var random = Seeded(state: 7)
        let keys = ["type", "id", "data", "a", "b10", "b9", "é", "z", "tenantid", "_", "A", "ümlaut", "0"]
        var first: JSONValue?
        for _ in 0..<50 {
            let shuffled = keys.shuffled(using: &random)
            let text = "{" + shuffled.map { #""\#($0)":"\#($0)""# }.joined(separator: ",") + "}"
            let parsed = try #require(JSONValue.parse(Array(text.utf8)))
            guard case .object(let object) = parsed else {
                Issue.record("not an object")
                return
            }
            #expect(object.keys.elementsEqual(keys.sorted()))
            for key in keys { #expect(object[key] == .string(key)) }
            if let first {
                #expect(parsed == first)
                #expect(parsed.hashValue == first.hashValue)
                #expect(parsed.serialized() == first.serialized())
            }
            first = parsed
        }
        let literal: JSONObject = ["b": .number("2"), "a": .number("1"), "c": .null]
        #expect(JSONValue.object(literal).serialized() == Array(#"{"a":1,"b":2,"c":null}"#.utf8))
        #expect(JSONValue.object(literal) != .object(["a": .number("1"), "b": .number("3"), "c": .null]))
        #expect(JSONValue.object(literal) != .object(["a": .number("1"), "b": .number("2")]))
    }

    @Test("Setting, replacing and removing members keeps them as a dictionary would, in key order")
    func editsAgainstDictionary() {
        var random = Seeded(state: 11)
        var object = JSONObject()
        var model: [String: JSONValue] = [:]
        for step in 0..<2_000 {
            let key = "k\(Int.random(in: 0..<40, using: &random))"
            switch Int.random(in: 0..<3, using: &random) {
            case 0:
                object[key] = nil
                model[key] = nil
            default:
                object[key] = .number(String(step))
                model[key] = .number(String(step))
            }
            #expect(object.keys.elementsEqual(model.keys.sorted()))
        }
        for (key, value) in model { #expect(object[key] == value) }
        #expect(object == JSONObject(model))
        #expect(object["absent"] == nil)
        let merged = object.merging(["k0": .bool(true), "new": .null])
        #expect(merged["k0"] == .bool(true))
        #expect(merged["new"] == .null)
        #expect(merged.count == object.count + (object["k0"] == nil ? 2 : 1))
        #expect(merged.keys.elementsEqual(Set(model.keys).union(["k0", "new"]).sorted()))
        let doubled = object.mapValues { value in
            guard case .number(let text) = value else { return value }
            return .string(text + text)
        }
        #expect(doubled.keys.elementsEqual(object.keys))
        for (key, value) in model {
            guard case .number(let text) = value else { continue }
            #expect(doubled[key] == .string(text + text))
        }
        #expect(JSONValue.null.adding(["a": .null]) == .null)
        #expect(JSONValue.parse(Array("{}".utf8)) == .object(JSONObject()))
        #expect(JSONValue.parse(Array(#"{"a":1}"#.utf8))?.serialized() == Array(#"{"a":1}"#.utf8))
    }

    @Test("A key given twice keeps its last value, wherever the two stand")
    func repeatedKeys() throws {
        for text in [
            #"{"b":1,"a":2,"b":3}"#, #"{"b":1,"b":3,"a":2}"#, #"{"a":2,"b":1,"b":3}"#, #"{"b":0,"a":2,"b":1,"b":3}"#,
        ] {
            let parsed = try #require(JSONValue.parse(Array(text.utf8)))
            #expect(parsed.serialized() == Array(#"{"a":2,"b":3}"#.utf8), "\(text)")
        }
        // Past the few members of the usual object, a second way of sorting: the same result.
        var random = Seeded(state: 3)
        for count in [31, 32, 33, 200] {
            let keys = (0..<count).map { "k\($0)" }
            let given = keys.shuffled(using: &random).map { #""\#($0)":"first""# } + [#""k7":"last""#]
            let parsed = try #require(JSONValue.parse(Array("{\(given.joined(separator: ","))}".utf8)))
            guard case .object(let object) = parsed else {
                Issue.record("not an object")
                return
            }
            #expect(object.keys.elementsEqual(keys.sorted()), "\(count)")
            #expect(object["k1"] == .string("first"))
            #expect(object["k7"] == .string("last"))
        }
        // Keys are compared as Swift strings: canonically equivalent spellings are one key, as
        // they were when objects were dictionaries, written as first spelled.
        let parsed = try #require(JSONValue.parse(Array(#"{"\u00e9":1,"e\u0301":2}"#.utf8)))
        guard case .object(let object) = parsed else {
            Issue.record("not an object")
            return
        }
        #expect(object.count == 1)
        #expect(object["é"] == .number("2"))
        #expect(parsed.serialized() == [0x7B, 0x22, 0xC3, 0xA9, 0x22, 0x3A, 0x32, 0x7D])  // {"é":2}, é as U+00E9
        #expect(parsed == .object(["e\u{301}": .number("2")]))
        #expect(parsed.hashValue == JSONValue.object(["e\u{301}": .number("2")]).hashValue)
    }
}
