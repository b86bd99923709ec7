"""Executing a sync run: the phases, the exactly-once push protocol, and the pull side."""
