/// Migration 8: what admission and the `slurm_remote` backend record on an execution.
///
/// - `admitted_at`: when a runner first took the execution out of `pending` for its profile's
///   `max_concurrent_executions` (NULL while it waits; executions that left `pending` before this
///   migration count as admitted by their status).
/// - `waiting_reason`: why a pending execution is held (the cap and how many are in progress);
///   NULL once admitted.
/// - `submission_deadline_at`: the wall-clock end of one submission attempt (upload, job script,
///   sbatch); a submission still unresolved then is never retried blindly.
/// - `scheduler_state`: the batch scheduler's view of the job (`PENDING (Priority)`, `RUNNING`,
///   `TIMEOUT`), next to `daliuge_state`, the DALiuGE session's.
enum Migration0008 {
    static let sql = """
    ALTER TABLE executions
        ADD COLUMN admitted_at TIMESTAMPTZ,
        ADD COLUMN waiting_reason TEXT,
        ADD COLUMN submission_deadline_at TIMESTAMPTZ,
        ADD COLUMN scheduler_state TEXT;
    -- Admission counts a profile's executions in progress.
    CREATE INDEX idx_executions_profile_active ON executions (deployment_profile_id)
        WHERE status IN ('pending', 'running', 'awaiting_scheduler', 'retrying');
    """
}
