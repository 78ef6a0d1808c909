"""One module per command: each turns a typed request into engine calls and output."""
