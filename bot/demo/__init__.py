"""The demo: a month of realistic support traffic for `kpibot demo`, no Slack account needed."""

from bot.demo.traffic import generate_demo_events

__all__ = ["generate_demo_events"]
