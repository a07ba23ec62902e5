import BeamsyncOperations
import ServiceLifecycle

/// `APIChangeFeed` as a service that runs beside the HTTP server and stops with it.
struct APIFeedService: Service {
    let feed: APIChangeFeed

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await feed.run()
        }
    }
}
