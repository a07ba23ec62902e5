import BeamsyncCLI

await BeamsyncMain.run()
