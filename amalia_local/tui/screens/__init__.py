"""Screens: the chat, the first run, settings, help and small dialogs."""
