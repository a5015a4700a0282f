"""The demo: two months of realistic support traffic for `kpibot demo`, no Slack account needed."""

from bot.demo.traffic import DAYS, generate_demo_events

__all__ = ["DAYS", "generate_demo_events"]
