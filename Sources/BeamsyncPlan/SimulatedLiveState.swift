import BeamsyncModel

extension LiveState {
    /// The live state beamsync would leave after applying `state` to an empty database: used to
    /// plan a pull request's head against its base (what the change itself does), independent of
    /// whatever the database holds today.
    public init(simulating state: DesiredState) {
        self.init()
        for (i, located) in state.profiles.enumerated() {
            let p = located.value
            profiles.append(LiveProfile(id: "base-\(i)", name: p.name, description: p.description, projectModule: p.projectModule,
                                        isDefault: p.isDefault, maxConcurrentExecutions: p.maxConcurrentExecutions,
                                        translation: p.translation.json, deployment: p.deployment.json))
            inventory.append(InventoryEntry(kind: .deploymentProfile, name: p.name, path: located.origin.file,
                                            blobID: located.origin.blobID, specSHA256: state.profileSHA256[p.name] ?? p.specSHA256))
        }
        for (i, located) in state.projects.enumerated() {
            let p = located.value
            projects.append(LiveProjectConfig(id: "base-project-\(i)", projectID: p.id, version: 1, spec: p.spec, storedSHA256: p.specSHA256))
            inventory.append(InventoryEntry(kind: .projectConfig, name: p.id, path: located.origin.file, blobID: located.origin.blobID,
                                            specSHA256: p.specSHA256))
        }
        for located in state.executions {
            let e = located.value
            executions.append(LiveExecution(name: e.name, projectModule: e.projectModule, profileID: nil, status: .completed))
            inventory.append(InventoryEntry(kind: .execution, name: e.name, path: located.origin.file, blobID: located.origin.blobID,
                                            specSHA256: e.specSHA256))
        }
    }
}
