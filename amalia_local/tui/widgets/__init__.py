"""Widgets grouped by feature: the message list, the prompt, the sidebar, the status bar."""
