import Prometheus

/// The controller's Prometheus metrics, on a registry the HTTP server exposes at /metrics.
public final class ControllerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let reconcileDuration: ValueHistogram
    private let fetchDuration: ValueHistogram
    private let fetches: Counter
    private let fetchFailures: Counter
    private let driftGauge: Gauge
    private let leaderGauge: Gauge
    private let parseCacheEntries: Gauge
    private let parseCacheBytes: Gauge

    static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "beamsync", metricName: metric, unitName: unit, helpText: help)
    }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        reconcileDuration = registry.makeValueHistogram(
            descriptor: Self.name("reconcile_duration", "seconds", "Time from fetch to recorded status, per reconcile."), buckets: Self.buckets)
        fetchDuration = registry.makeValueHistogram(
            descriptor: Self.name("git_fetch_duration", "seconds", "Time to fetch the source repository."), buckets: Self.buckets)
        fetches = registry.makeCounter(descriptor: Self.name("git_fetch", "total", "Git fetches attempted."))
        fetchFailures = registry.makeCounter(descriptor: Self.name("git_fetch_failures", "total", "Git fetches that failed or timed out."))
        driftGauge = registry.makeGauge(descriptor: Self.name("drift", "objects", "Managed objects changed outside git, last reconcile."))
        leaderGauge = registry.makeGauge(descriptor: Self.name("leader", "state", "1 when this replica holds the leader lock."))
        parseCacheEntries = registry.makeGauge(descriptor: Self.name("parse_cache", "files", "Files of the current tree whose parse is cached."))
        parseCacheBytes = registry.makeGauge(descriptor: Self.name("parse_cache_packed", "bytes", "Bytes of the packed parses in the cache."))
    }

    public func reconciled(result: String, seconds: Double) {
        registry.makeCounter(descriptor: Self.name("reconciles", "total", "Reconciles by result."), labels: [("result", result)]).increment()
        reconcileDuration.record(seconds)
    }

    public func fetched(ok: Bool, seconds: Double) {
        fetches.increment()
        if !ok { fetchFailures.increment() }
        fetchDuration.record(seconds)
    }

    public func webhook(provider: String, result: String) {
        registry.makeCounter(descriptor: Self.name("webhook_requests", "total", "Webhook requests by provider and result."),
                             labels: [("provider", provider), ("result", result)]).increment()
    }

    public func objects(kind: String, count: Int) {
        registry.makeGauge(descriptor: Self.name("managed", "objects", "Objects managed from git, by kind."), labels: [("kind", kind)])
            .set(Double(count))
    }

    public func drift(count: Int) { driftGauge.set(Double(count)) }

    public func leader(_ isLeader: Bool) { leaderGauge.set(Double(isLeader ? 1 : 0)) }

    /// The parse cache after a load: files whose parse is kept, and the bytes of the packed ones.
    public func parseCache(entries: Int, packedBytes: Int) {
        parseCacheEntries.set(Double(entries))
        parseCacheBytes.set(Double(packedBytes))
    }

    /// The text exposition format: beamsync's metrics, then the standard `process_*` ones.
    public func render() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self) + (ProcessMetrics.current()?.exposition ?? "")
    }
}
