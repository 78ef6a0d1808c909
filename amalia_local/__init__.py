"""amalia-local: run AMALIA, the open European-Portuguese LLM, on your own machine."""

__version__ = "0.1.0"
