"""The composition root: the one place that builds every service, wires them together and
schedules every job. Nothing else constructs a service or touches the job queue.

- `startup`: the PTB application, Telegram's first answer and the database, with patience;
- `assemble`: every service built and wired (`open_bot`), and the run loop (`serve`);
- `running`: `Postino`, what every replica runs and what only the leader does.
"""

from bot.app.assemble import open_bot, serve
from bot.app.running import Postino
from bot.app.startup import StartupError

__all__ = ["Postino", "StartupError", "open_bot", "serve"]
