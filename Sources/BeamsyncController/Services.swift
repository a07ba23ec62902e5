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
