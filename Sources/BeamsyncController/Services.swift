import BeamsyncEngine
import ServiceLifecycle

/// The controller loop as a service; graceful shutdown lets the reconcile in flight finish.
public struct ControllerService: Service {
    public let controller: Controller

    public init(controller: Controller) { self.controller = controller }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            await controller.run(shouldStop: { Task.isShuttingDownGracefully || Task.isCancelled })
        } onGracefulShutdown: {
            controller.wake()
        }
    }
}

/// The execution runner as a service: on shutdown the steps in flight hand their executions
/// back (their recorded step is repeated safely by whoever takes them next).
public struct RunnerService: Service {
    public let runner: ExecutionRunner

    public init(runner: ExecutionRunner) { self.runner = runner }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await runner.run()
        }
        await runner.close()
    }
}

/// Gives freed heap memory back to the system every `interval`. After a burst of requests (64
/// clients each holding a 230 KB list response) or a large apply, glibc keeps the freed pages;
/// `malloc_trim` on a mostly idle heap takes well under a millisecond.
public struct FreedMemoryReturnService: Service {
    public let interval: Duration

    public init(interval: Duration = .seconds(5)) { self.interval = interval }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                MemoryHygiene.returnFreedMemory()
            }
        }
    }
}
