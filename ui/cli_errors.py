"""Top-level error handling of the ``perfsearch`` CLI.

- ``SafeGroup``: every exception a command lets escape becomes ONE Chinese line
  (``错误：…``) on stderr and exit code 1; the traceback goes to the log and is
  shown only with ``-v``.
- ``install_chinese_messages``: click's own English usage errors (``No such
  option``, ``Missing argument`` ...) are shown in Chinese.
"""

from __future__ import annotations

import logging
import sqlite3
import traceback

import click

log = logging.getLogger(__name__)

# click's message ids (click 8.x) -> Chinese; anything missing stays English
_MESSAGES = {
    "Error: {message}": "错误：{message}",
    "Try '{command} {option}' for help.": "运行 '{command} {option}' 查看帮助。",
    "Usage:": "用法：",
    "Aborted!": "已中止！",
    "Options": "选项",
    "Commands": "命令",
    "Positional arguments": "位置参数",
    "Show this message and exit.": "显示本帮助并退出。",
    "Show the version and exit.": "显示版本并退出。",
    "default: {default}": "默认：{default}",
    "env var: {var}": "环境变量：{var}",
    "No such option: {name}": "没有这个选项：{name}",
    "No such option {name!r}.": "没有这个选项 {name!r}（若这是以“-”开头的文件名，请写成 ./文件名，或放在 -- 之后）。",
    "No such command {name!r}.": "没有这个命令 {name!r}。",
    "No such command: {name}": "没有这个命令：{name}",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing {param_type}": "缺少{param_type}",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "Missing command.": "缺少命令。",
    "Invalid value: {message}": "无效的值：{message}",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的值无效：{message}",
    "Option {name!r} does not take a value.": "选项 {name!r} 不接受值。",
    "Invalid start character for option ({option})": "选项的起始字符无效（{option}）",
    "Argument {name!r} takes {nargs} values.": "参数 {name!r} 需要 {nargs} 个值。",
    "Value must be an iterable.": "值必须是一个列表。",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的数字（{number_type}）。",
    "{value} is not in the range {range}.": "{value} 不在范围 {range} 内。",
    "{value!r} is not a valid UUID.": "{value!r} 不是有效的 UUID。",
    "file": "文件",
    "directory": "文件夹",
    "path": "路径",
    "{name} {filename!r} does not exist.": "{name} {filename!r} 不存在。",
    "{name} {filename!r} is a file.": "{name} {filename!r} 是文件。",
    "{name} {filename!r} is a directory.": "{name} {filename!r} 是文件夹。",
    "{name} {filename!r} is not readable.": "{name} {filename!r} 不可读。",
    "{name} {filename!r} is not writable.": "{name} {filename!r} 不可写。",
    "Could not open file {filename!r}: {message}": "无法打开文件 {filename!r}：{message}",
    "unknown error": "未知错误",
}
_PLURALS = {
    "Did you mean {possibility}?": ("您是不是想用 {possibility}？", "（您是不是想用其中之一：{possibilities}？）"),
    "Option {name!r} requires an argument.": ("选项 {name!r} 需要一个值。", "选项 {name!r} 需要 {nargs} 个值。"),
    "Got unexpected extra argument ({args})": ("多余的参数（{args}）", "多余的参数（{args}）"),
    "{value!r} is not {choice}.": ("{value!r} 不是 {choice}。", "{value!r} 不是 {choices} 之一。"),
    "Error: The option '{name}' requires a value.": ("错误：选项 '{name}' 需要一个值。",) * 2,
}


def _gettext(message: str) -> str:
    return _MESSAGES.get(message, message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    pair = _PLURALS.get(singular)
    if pair is None:
        return singular if n == 1 else plural
    return pair[0] if n == 1 else pair[1]


def install_chinese_messages() -> None:
    """Point click's gettext hooks at the Chinese table (idempotent)."""
    import importlib

    for name in ("core", "exceptions", "parser", "types", "formatting", "decorators", "termui"):
        try:
            mod = importlib.import_module(f"click.{name}")
        except ImportError:  # pragma: no cover
            continue
        if hasattr(mod, "_"):
            mod._ = _gettext
        if hasattr(mod, "ngettext"):
            mod.ngettext = _ngettext


def user_message(exc: BaseException) -> str | None:
    """The Chinese message of an error the user can cause and fix, else None."""
    from indexer.model import IngestError
    from indexer.settings import SettingsError
    from indexer.store import IndexUnavailable

    if isinstance(exc, (IndexUnavailable, IngestError, SettingsError)):
        return str(exc)
    try:
        from search.engine import EngineError
    except ImportError:  # pragma: no cover
        EngineError = ()  # noqa: N806
    if EngineError and isinstance(exc, EngineError):
        return str(exc)
    from indexer.store import is_disk_full

    if is_disk_full(exc):
        return "磁盘空间不足，操作未完成；请释放空间后重试"
    if isinstance(exc, PermissionError):
        return f"没有权限：{exc.filename or ''} {exc.strerror or ''}".strip()
    if isinstance(exc, OSError) and exc.strerror:
        return f"系统错误：{exc.strerror}{'（' + str(exc.filename) + '）' if exc.filename else ''}"
    if isinstance(exc, sqlite3.DatabaseError):
        return f"索引数据库无法读取，可能已损坏（{exc}）；请删除索引目录后重新运行 perfsearch ingest"
    return None


class SafeGroup(click.Group):
    """A click group whose commands never show a traceback unless ``-v`` is given."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            raise click.exceptions.Abort() from None
        except Exception as exc:  # noqa: BLE001 - the one place every error is turned into a line
            verbose = bool(ctx.meta.get("perfsearch.verbose"))
            log.debug("command failed", exc_info=True)
            msg = user_message(exc)
            if msg is None:
                msg = f"内部错误（{type(exc).__name__}: {exc}）；加 -v 运行可查看详细信息"
            if verbose:
                traceback.print_exc()
            raise click.ClickException(msg) from exc
