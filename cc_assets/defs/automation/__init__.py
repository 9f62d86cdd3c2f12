"""Automation: discovery sensor, schedules, batched hot refresh, declarative automation."""
