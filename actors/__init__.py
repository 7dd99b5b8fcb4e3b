"""The eight agents and the ingress actors: plain classes, hosted by ``actors.shell.AgentShell`` on Ray."""
