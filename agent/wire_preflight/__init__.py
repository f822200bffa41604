"""wire-preflight: judge a VM, and a fleet of them, against Wire's installation plan."""

__version__ = "0.1.0"
