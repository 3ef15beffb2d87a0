"""SSH into simulated guests: each running VM answers SSH on its own address with a small
POSIX-like shell over the guest's own files (the files the control plane's guest
operations and a revert see)."""

from simulator.ssh.files import GuestFiles
from simulator.ssh.server import SshGateway
from simulator.ssh.shell import Shell

__all__ = ["GuestFiles", "Shell", "SshGateway"]
