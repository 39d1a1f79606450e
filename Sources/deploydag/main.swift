import DeployCommands

DeployDag.runAsMain()
