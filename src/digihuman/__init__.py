"""digihuman: a self-hosted digital-human (talking video) server that runs on a CPU."""

__version__ = "0.1.0"
