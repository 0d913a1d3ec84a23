"""The web desk: a page (bot/web/static) and its JSON API, mounted under /desk/ on the bot's
web server (WEBHOOK_LISTEN). `bot.app` builds it (`api.build_desk_app`) with what it needs,
including the group-admin check that asks Telegram."""
