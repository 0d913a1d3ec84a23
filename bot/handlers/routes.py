"""The ordered handler table and the command menus: which update goes to which handler.

Order matters: the access gate runs first (group -1); replies to the bot's own messages are
renames; documents in private chats are imports, before the catch-all private handlers.
"""

from __future__ import annotations

from typing import Any

from telegram import BotCommand, Message, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.handlers import buttons, desk, deskweb, photos, topics
from bot.handlers.access import access_gate
from bot.handlers.admin import stats_command
from bot.handlers.buttons import named_by_reply
from bot.handlers.errors import error_handler
from bot.handlers.follow import (
    archived_command,
    help_command,
    list_command,
    not_text,
    plain_text,
    remove_command,
    start,
    status_command,
    track_command,
)
from bot.handlers.inline import inline_query
from bot.handlers.membership import group_migrated, membership_changed
from bot.handlers.preferences import lang_command, notify_command, quiet_command
from bot.handlers.search import find_command
from bot.texts.callbacks import Action, pattern
from bot.texts.i18n import LANGUAGES, translator

COMMANDS = (
    "track",
    "list",
    "status",
    "remove",
    "find",
    "archived",
    "summary",
    "export",
    "desk",
    "import",
    "digest",
    "notify",
    "quiet",
    "lang",
    "help",
)


class RepliesToBot(filters.MessageFilter):
    """Messages that answer one of this bot's own messages."""

    def __init__(self, bot_id: int) -> None:
        super().__init__(name="RepliesToBot")
        self._bot_id = bot_id

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.id == self._bot_id)


def register_handlers(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    bot_id = int(application.bot.token.partition(":")[0])
    application.add_handler(TypeHandler(Update, access_gate), group=-1)
    # Edited messages are ignored on purpose: re-running an edited /track would surprise.
    new = filters.UpdateType.MESSAGE
    commands = {
        ("start",): start,
        ("help",): help_command,
        ("track",): track_command,
        ("list",): list_command,
        ("status",): status_command,
        ("find",): find_command,
        ("remove",): remove_command,
        ("archived",): archived_command,
        ("lang",): lang_command,
        ("quiet",): quiet_command,
        ("notify",): notify_command,
        ("stats",): stats_command,
    }
    # Photos of labels, and /track replying to one: before /track and the desk's documents.
    photos.register(application)
    for names, callback in commands.items():
        application.add_handler(CommandHandler(list(names), callback, filters=new))
    # Inline buttons: one route per action on the data `bot.texts.callbacks` packs; the
    # first release's Details buttons carried "st". Whatever matches none is stale (last).
    button_routes = {
        (Action.DETAILS, Action.DETAILS_FIRST_RELEASE): buttons.show_details,
        (Action.REFRESH,): buttons.refresh,
        (Action.RENAME,): buttons.ask_for_name,
        (Action.TOGGLE_MUTE,): buttons.toggle_mute,
        (Action.ASK_TO_REMOVE,): buttons.ask_to_remove,
        (Action.CONFIRM_REMOVE,): buttons.confirm_remove,
        (Action.CANCEL_REMOVE,): buttons.cancel_remove,
        (Action.RETRACK,): buttons.retrack,
        (Action.RESTORE,): buttons.restore,
        (Action.LIST_PAGE,): buttons.show_list_page,
        (Action.ARCHIVED_PAGE,): buttons.show_archived_page,
        (Action.FIND_PAGE,): buttons.show_find_page,
        (Action.PHOTO_FOLLOW,): photos.follow_offered,
        (Action.PHOTO_IGNORE,): photos.ignore_offered,
    }
    for actions, on_button in button_routes.items():
        application.add_handler(CallbackQueryHandler(on_button, pattern=pattern(*actions)))
    application.add_handler(CallbackQueryHandler(buttons.stale_button))
    application.add_handler(ChatMemberHandler(membership_changed))
    application.add_handler(InlineQueryHandler(inline_query))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, group_migrated))
    reply_to_bot = filters.REPLY & filters.TEXT & ~filters.COMMAND & new & RepliesToBot(bot_id)
    application.add_handler(MessageHandler(reply_to_bot, named_by_reply))
    desk.register(application)  # before not_text: private documents are imports
    deskweb.register(application)  # /desk: the web desk's login link
    private = filters.ChatType.PRIVATE & new
    application.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, plain_text))
    application.add_handler(
        MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, not_text)
    )
    topics.register(application)
    application.add_error_handler(error_handler)


async def set_command_menus(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The command menu in Italian, in English, and (English) for every other language."""
    for language in (None, *LANGUAGES):
        t = translator(language or "en")
        commands = [BotCommand(name, str(t(f"command.{name}"))) for name in COMMANDS]
        await application.bot.set_my_commands(commands, language_code=language)
