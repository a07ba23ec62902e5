@testable import BeamsyncEngine
import BeamsyncModel
import Foundation
import Testing

@Suite("Slurm output and command lines")
struct SlurmOutputTests {
    @Test("states normalise as beampipe's table says, compound states by rank, CANCELLED by the first word")
    func normalisation() {
        let table: [(String, SlurmJobState)] = [
            ("COMPLETED", .completed), ("PENDING", .pending), ("REQUEUE_HOLD", .pending), ("SUSPENDED", .pending),
            ("RUNNING", .running), ("COMPLETING", .running), ("CONFIGURING", .running), ("STAGE_OUT", .running),
            ("FAILED", .failed), ("NODE_FAIL", .failed), ("OUT_OF_MEMORY", .failed), ("PREEMPTED", .failed), ("BOOT_FAIL", .failed),
            ("TIMEOUT", .timeout), ("CANCELLED", .cancelled), ("CANCELLED by 1001", .cancelled), ("REVOKED", .cancelled),
            ("", .unknown), ("SOMETHING_NEW", .unknown), ("RUNNING+COMPLETING", .running), ("COMPLETING+TIMEOUT", .timeout),
            ("  pending ", .pending),
        ]
        for (raw, expected) in table { #expect(SlurmJobState(raw: raw) == expected, "\(raw)") }
        #expect(SlurmJobState.pending.executionStatus == .awaitingScheduler && SlurmJobState.unknown.executionStatus == .awaitingScheduler)
        #expect(SlurmJobState.running.executionStatus == .running && SlurmJobState.completed.executionStatus == .completed)
        #expect(SlurmJobState.timeout.executionStatus == .failed && SlurmJobState.failed.executionStatus == .failed)
        #expect(SlurmJobState.cancelled.executionStatus == .cancelled)
        #expect(SlurmJobState.allCases.filter(\.isTerminal) == [.completed, .cancelled, .timeout, .failed])
    }

    @Test("sbatch --parsable gives a job id only as exactly one line ID or ID;cluster")
    func sbatchAnswer() {
        #expect(SlurmOutput.sbatchJobID("5\n") == "5")
        #expect(SlurmOutput.sbatchJobID("1234") == "1234")
        #expect(SlurmOutput.sbatchJobID("77;beamsync\n") == "77")
        #expect(SlurmOutput.sbatchJobID("NOTICE: scratch purge runs on Fridays; check your quota with 'quota -s'\n24\n") == nil)
        #expect(SlurmOutput.sbatchJobID("") == nil)
        #expect(SlurmOutput.sbatchJobID("\n") == nil)
        #expect(SlurmOutput.sbatchJobID("Submitted batch job 5\n") == nil)
        #expect(SlurmOutput.sbatchJobID("5\n6\n") == nil)
        #expect(SlurmOutput.sbatchJobID("5;\n") == nil)
        #expect(SlurmOutput.sbatchJobID("5;a b\n") == nil)
    }

    @Test("sacct: the job's own row wins over its steps; steps count only without it, the highest-ranked first")
    func sacctFolding() {
        let rows = SlurmOutput.sacct("""
            42|RUNNING|0:0
            42.batch|COMPLETED|0:0
            43.batch|CANCELLED|0:15
            43.0|TIMEOUT|0:0
            44|CANCELLED by 1001|0:0
            10|FAILED|3:0
            """)
        #expect(rows["42"] == SlurmOutput.AccountingLine(state: "RUNNING", exitCode: "0:0"))
        #expect(rows["43"] == SlurmOutput.AccountingLine(state: "TIMEOUT", exitCode: "0:0"))
        #expect(SlurmJobState(raw: rows["44"]!.state) == .cancelled)
        #expect(rows["10"]?.exitCode == "3:0")
        #expect(rows.count == 4)
    }

    @Test("squeue failing only because every id is unknown reads as 'none of them'")
    func squeueUnknownIDs() {
        #expect(SlurmOutput.onlyUnknownJobIDs(["slurm_load_jobs error: Invalid job id specified"]))
        #expect(!SlurmOutput.onlyUnknownJobIDs(["squeue: error: Unable to contact slurm controller (connect failure)"]))
        #expect(!SlurmOutput.onlyUnknownJobIDs([]))
        let queue = SlurmOutput.squeue(["9|COMPLETED|None", "18|PENDING|Nodes required for job are DOWN, DRAINED or reserved", "x"])
        #expect(queue["9"]?.state == "COMPLETED" && queue["18"]?.reason.hasPrefix("Nodes required") == true && queue.count == 2)
        #expect(SlurmOutput.jobIDs("21\n21\n7\n\nfoo\n") == ["7", "21"])
    }

    @Test("create_dlg_job's job script path is read from its 'Created job submission script' line")
    func jobScriptLine() {
        let output = "some warning\nCreated job submission script /home/u/dlg/workspace/S_2026-12-06T14-41-39/jobsub.sh\n"
        #expect(SlurmOutput.jobScriptPath(output) == "/home/u/dlg/workspace/S_2026-12-06T14-41-39/jobsub.sh")
        #expect(SlurmOutput.jobScriptPath("Traceback (most recent call last):\n") == nil)
    }

    @Test("DALiuGE's session status line and failed drops are read from the job's logs, as DALiuGE 6.6.0 writes them")
    func daliugeLogs() {
        #expect(DaliugeJobLog.sessionState("2026-12-06 14:44:38,100 [ INFO] dlg.dlg.deploy.common#_session_finished:93 Session status: [6]") == .failed)
        #expect(DaliugeJobLog.sessionState("... Session status: [4]") == .finished)
        #expect(DaliugeJobLog.sessionState("... Session status: [4, 4]") == .finished)
        #expect(DaliugeJobLog.sessionState("... Session status: [3, 4]") == .running)
        #expect(DaliugeJobLog.sessionState("... Session status: [4, 6]") == .failed)
        #expect(DaliugeJobLog.sessionState("... Session status: []") == nil)
        #expect(DaliugeJobLog.sessionState("no status here") == nil)
        let log = """
            2026-12-06 15:53:26,033 [ERROR] [Thread-15 (thre] [    boom_0] dlg.dlg.apps.app_base#execute:539 Error while executing <BashShellApp oid=2026-12-06T15:53:07_boom_0, uid=2026-12-06T15:53:07_boom_0> (try 1/1)
            2026-12-06 15:53:26,036 [ INFO] [Thread-15 (thre] [    neve_0] dlg.dlg.drop#setError:1194 Moving <FileDROP oid=2026-12-06T15:53:07_never_0, uid=2026-12-06T15:53:07_never_0> to ERROR
            2026-12-06 15:53:26,033 [ERROR] [Thread-15 (thre] [BeamsyncHa] [    boom_0] dlg.dlg.apps.app_base#execute:539 Error while executing <BashShellApp oid=2026-12-06T15:53:07_boom_0, uid=2026-12-06T15:53:07_boom_0> (try 1/1)
            """
        let drops = DaliugeJobLog.failedDrops(log, names: ["2026-12-06T15:53:07_boom_0": "boom"])
        #expect(drops == [FailedDrop(oid: "2026-12-06T15:53:07_boom_0", name: "boom"), FailedDrop(oid: "2026-12-06T15:53:07_never_0")])
    }

    private func deployment() -> SlurmRemoteDeployment {
        var slurm = SlurmRemoteDeployment(loginNode: "login.example.org", account: "proj0411", homeDir: "/home/u",
                                          logDir: "/home/u/dlg/log", dlgRoot: "/home/u/dlg")
        slurm.venv = "source $HOME/venv/bin/activate"
        slurm.jobDurationMinutes = 90
        slurm.resources.partition = "work"
        slurm.resources.cpusPerTask = 2
        return slurm
    }

    @Test("the DALiuGE INI has beampipe's sections; $ is escaped for ExtendedInterpolation and MODULES defaults to ':'")
    func configFile() {
        var slurm = deployment()
        let text = DaliugeSubmitConfig(slurm: slurm, user: "u", physicalGraphPath: "/home/u/dlg/staging/S/S.pgt.graph").text
        #expect(text == """
            [DEPLOYMENT]
            remote = False
            submit = False

            [ENGINE]
            NUM_NODES = 1
            NUM_ISLANDS = 1
            JOB_DUR = 90
            MAX_THREADS = 0
            VERBOSE_LEVEL = 1
            ALL_NICS = False

            [GRAPH]
            PHYSICAL_GRAPH = /home/u/dlg/staging/S/S.pgt.graph

            [FACILITY]
            USER = u
            ACCOUNT = proj0411
            LOGIN_NODE = login.example.org
            HOME_DIR = /home/u
            DLG_ROOT = /home/u/dlg
            LOG_DIR = /home/u/dlg/log
            EXEC_PREFIX = srun -l
            MODULES = :
            VENV = source $$HOME/venv/bin/activate

            """)
        slurm.modules = "module load a\nmodule load b\n"
        slurm.resources.wallTimeMinutes = 5
        slurm.allNICs = true
        let second = DaliugeSubmitConfig(slurm: slurm, user: "u", physicalGraphPath: "/p").text
        #expect(second.contains("MODULES = module load a\n    module load b\n"))
        #expect(second.contains("JOB_DUR = 5\n") && second.contains("ALL_NICS = True\n"))
    }

    @Test("sbatch runs in the session directory with --parsable, the job name, the account, an exported environment and the resources")
    func sbatchLine() throws {
        let slurm = deployment()
        let command = try SlurmCommands(slurm: slurm, environment: [:]).sbatch(jobScript: "/home/u/dlg/workspace/S_1/jobsub.sh",
                                                                                sessionDir: "/home/u/dlg/workspace/S_1", jobName: "S")
        #expect(command.hasPrefix("bash -lc '"))
        #expect(command.contains("cd -- '\\''/home/u/dlg/workspace/S_1'\\''"))
        #expect(command.contains("'\\''sbatch'\\'' '\\''--export=ALL,BEAMPIPE_SLURM_ACCOUNT'\\'' '\\''--parsable'\\'' '\\''--job-name=S'\\'' "
                                 + "'\\''--account=proj0411'\\'' '\\''--nodes=1'\\'' '\\''--time=01:30:00'\\'' '\\''--partition=work'\\'' "
                                 + "'\\''--cpus-per-task=2'\\'' '\\''/home/u/dlg/workspace/S_1/jobsub.sh'\\''"), "\(command)")
        #expect(command.contains("source $HOME/venv/bin/activate"), "venv runs as written")
        #expect(SlurmCommands.wallTime(1) == "00:01:00" && SlurmCommands.wallTime(600) == "10:00:00")
    }

    @Test("create_dlg_job gets the switches DALiuGE reads only as flags; a forwarded variable must be set")
    func createJobScriptLine() throws {
        var slurm = deployment()
        slurm.zerorun = true
        slurm.checkWithSession = true
        let command = try SlurmCommands(slurm: slurm, environment: [:]).createJobScript(graph: "/g", config: "/c", template: "/t")
        #expect(command.contains(" --slurm_template '\\''/t'\\'' --zerorun --check_with_session"))
        #expect(!command.contains("--sleepncopy"))
        #expect(command.contains("export DLG_ROOT='\\''/home/u/dlg'\\''"))
        slurm.environmentSetup = "export SIF=\"$BEAMPIPE_ASKAPSOFT_SIF\""
        #expect(throws: SlurmSetupError.self) { try SlurmCommands(slurm: slurm, environment: [:]).prelude() }
        let prelude = try SlurmCommands(slurm: slurm, environment: ["BEAMPIPE_ASKAPSOFT_SIF": "/images/askap.sif"]).prelude()
        #expect(prelude.contains("export BEAMPIPE_ASKAPSOFT_SIF='/images/askap.sif'"))
        #expect(prelude.components(separatedBy: "export BEAMPIPE_SLURM_ACCOUNT='proj0411'").count == 3, "before and after environment_setup")
    }
}
