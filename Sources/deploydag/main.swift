import DeployCommands

DeployDag.main()
