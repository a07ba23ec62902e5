import BeamsyncServer
import Testing

@Suite("The API's database pool")
struct APIPoolSizeTests {
    @Test("by default it holds twice the processors, at least 2 and at most 8 sessions")
    func defaultSize() {
        #expect(APIDependencies.defaultPoolSize(processors: 1) == 2)
        #expect(APIDependencies.defaultPoolSize(processors: 2) == 4)
        #expect(APIDependencies.defaultPoolSize(processors: 3) == 6)
        #expect(APIDependencies.defaultPoolSize(processors: 4) == 8)
        #expect(APIDependencies.defaultPoolSize(processors: 64) == 8)
    }
}
