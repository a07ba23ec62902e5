@testable import BeamsyncEngine
import BeamsyncModel
import Testing

@Suite("Physical graph preparation and roots")
struct PhysicalGraphTests {
    static let node = "127.0.0.1:18000:15555:16666"

    static let mapped = """
        [
         {"oid": "T_hello_0", "name": "hello", "categoryType": "Application", "dropclass": "dlg.apps.simple.HelloWorldApp",
          "lg_key": "hello", "iid": "0", "outputs": [{"T_greeting_0": "greeting"}], "node": "\(node)", "island": "127.0.0.1:18001"},
         {"oid": "T_greeting_0", "name": "greeting", "categoryType": "Data", "dropclass": "dlg.data.drops.file.FileDROP",
          "lg_key": "greeting", "iid": "0", "producers": [{"T_hello_0": "greeting"}], "consumers": ["T_sink_0"],
          "node": "\(node)", "island": "127.0.0.1:18001"},
         {"oid": "T_sink_0", "name": "sink", "categoryType": "Application", "dropclass": "x.Sink", "type": "app", "app": "keep",
          "humanReadableKey": "mine", "inputs": ["T_greeting_0"], "node": "\(node)"},
         {"oid": "T_input_0", "name": "input", "categoryType": "Data", "node": "\(node)", "producers": []},
         {"oid": "T_emptyapp_0", "name": "empty", "categoryType": "Application", "inputs": [], "node": "\(node)"},
         {}
        ]
        """

    @Test("preparing a mapped graph fills type, app and humanReadableKey, keeps values already there and drops the empty trailer")
    func preparationFillsUIFieldsAndDropsTheEmptyTrailer() throws {
        let graph = try PhysicalGraph(mapOutput: Array(Self.mapped.utf8))
        #expect(graph.elements.count == 5)
        let hello = try #require(graph.elements.first?.objectValue)
        #expect(hello["type"] == .string("app"))
        #expect(hello["app"] == .string("dlg.apps.simple.HelloWorldApp"))
        #expect(hello["humanReadableKey"] == .string("hello_0"))
        let greeting = try #require(graph.elements[1].objectValue)
        #expect(greeting["type"] == .string("plain"))
        #expect(greeting["app"] == nil)
        // Existing values are kept.
        let sink = try #require(graph.elements[2].objectValue)
        #expect(sink["app"] == .string("keep"))
        #expect(sink["humanReadableKey"] == .string("mine"))
        #expect(graph.dropNames["T_hello_0"] == "hello")
        #expect(try JSONValue.parse(bytes: graph.jsonBytes).arrayValue?.count == 5)
    }

    @Test("the roots are the applications without inputs and the data without producers, sorted")
    func rootsAreInputlessAppsAndProducerlessDataSorted() throws {
        let graph = try PhysicalGraph(mapOutput: Array(Self.mapped.utf8))
        // Empty link lists count as none (DALiuGE's get_roots), so T_emptyapp_0 and T_input_0 are roots.
        #expect(graph.roots == ["T_emptyapp_0", "T_hello_0", "T_input_0"])
    }

    @Test("a drop named as another drop's output or consumer is never a root, even without a back-link of its own")
    func linkedTargetsAreNeverRoots() throws {
        // A drop named only as someone's output/consumer is fed even without its own back-link.
        let elements = try JSONValue.parse("""
            [{"oid": "a", "categoryType": "Application", "outputs": ["d"]}, {"oid": "d", "categoryType": "Data"},
             {"oid": "z", "type": "plain", "consumers": [{"b": "in"}]}, {"oid": "b", "type": "app"}]
            """).arrayValue!
        #expect(PhysicalGraph.rootDrops(of: elements) == ["a", "z"])
    }

    @Test("an unmapped or broken graph is rejected, naming what is not mapped")
    func unmappedOrBrokenGraphsAreRejected() {
        #expect(throws: PhysicalGraphError.self) { try PhysicalGraph(mapOutput: Array("{}".utf8)) }
        #expect(throws: PhysicalGraphError.self) { try PhysicalGraph(mapOutput: Array("[{}]".utf8)) }
        #expect(throws: PhysicalGraphError.self) { try PhysicalGraph(mapOutput: Array("not json".utf8)) }
        let unmapped = ##"[{"oid": "a", "categoryType": "Application", "node": "#0", "island": "#0"}]"##
        let error = #expect(throws: PhysicalGraphError.self) { try PhysicalGraph(mapOutput: Array(unmapped.utf8)) }
        #expect(error?.message.contains("not mapped") == true)
    }
}
