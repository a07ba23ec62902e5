import BeamsyncModel
import BeamsyncPlan
import BeamsyncPostgres

/// The pull-request view (`plan --repo R --ref HEAD --base BASE`): which files changed, what the
/// change does relative to its base, and what applying the head would do to the database.
public struct PullRequestReviewer: Sendable {
    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    public struct Outcome: Sendable {
        public var review: PullRequestReview
        /// Set when the base does not validate (or predates beamsync) and was compared as empty.
        public var baseNote: String?
    }

    /// A head that does not validate gives a review whose plans hold only its diagnostics
    /// (`Plan.rejected`), so the comment can say what to fix. Writes nothing, not even the schema.
    public func review(head: GitSource, base baseRef: String, overrides: PolicyOverrides) async throws -> Outcome {
        let reconciliation = Reconciliation(conn: conn)
        let headInput = await reconciliation.withLastApplied(.git(head))
        async let headParsing = ParsedSource.read(headInput)
        let (live, schemaCreated) = try await reconciliation.readLiveForPlanning()
        let headParsed = try await headParsing
        // The base is already in the target branch: its commits are not verified again.
        let base = head.at(ref: baseRef)
        let baseParsed = ParsedSource(try await base.snapshot(at: try await base.latestRevision()))
        var files: [PullRequestReview.FileChange] = []
        if let b = baseParsed.snapshot.revision, let h = headParsed.snapshot.revision {
            files = try await head.changedFiles(from: b, to: h)
        }
        var plan: Plan
        do {
            plan = try Reconciliation.plan(headParsed, against: live, overrides: overrides)
        } catch {
            let rejected = Plan.rejected(source: headParsed.snapshot.label, sourceRevision: headParsed.snapshot.revision,
                                         diagnostics: error.diagnostics)
            return Outcome(review: PullRequestReview(base: baseParsed.snapshot.label, head: headParsed.snapshot.label, files: files,
                                                     changeSet: rejected, plan: rejected),
                           baseNote: nil)
        }
        if !schemaCreated { plan.noteSchemaMissing() }

        let baseChecked = baseParsed.check(externalProfiles: live.externalProfiles)
        // A base that does not validate (or predates beamsync) is compared as empty.
        let baseLive = baseChecked.state.map(LiveState.init(simulating:)) ?? LiveState()
        let note = baseChecked.state == nil
            ? "the base \(baseParsed.snapshot.label) does not validate (\(baseChecked.diagnostics.errors.count) errors); comparing against an empty base"
            : nil
        var changeSet = try Reconciliation.plan(headParsed, against: baseLive, overrides: overrides)
        changeSet.source = "\(baseParsed.snapshot.label) → \(headParsed.snapshot.label)"
        return Outcome(review: PullRequestReview(base: baseParsed.snapshot.label, head: headParsed.snapshot.label, files: files,
                                                 changeSet: changeSet, plan: plan,
                                                 signatures: headParsed.snapshot.verified?.signers ?? []),
                       baseNote: note)
    }
}
