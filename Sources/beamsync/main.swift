import BeamsyncCLI

BeamsyncCommand.main()
