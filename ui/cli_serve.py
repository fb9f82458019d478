"""``perfsearch serve``: start the web interface (registered by ``ui.cli``).

Imports of Gradio happen inside the command, so other commands stay fast.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time

import click

log = logging.getLogger(__name__)

INDEX_HELP = "索引目录（默认 ./index，可用环境变量 PERFSEARCH_INDEX 覆盖）"
AUTH_ENV = "PERFSEARCH_AUTH"


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``user:pass`` -> (user, pass); None/empty -> None; raise click.BadParameter otherwise."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise click.BadParameter("格式应为 用户名:密码，例如 --auth admin:s3cret", param_hint="--auth")
    return user, password


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_index(engine, corpus: str) -> None:
    """Build the index from ``corpus`` with a progress bar on the terminal."""
    from ui.cli import run_ingest

    click.echo(f"索引 {engine.index_dir} 不存在，正在从 {corpus} 构建……", err=True)
    run_ingest(engine, [corpus], desc="构建索引")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址（默认只允许本机访问）")
@click.option("--port", default=7860, show_default=True, type=int, help="端口")
@click.option("--index", "index", default=None, help=INDEX_HELP)
@click.option("--corpus", default=None, type=click.Path(file_okay=False), help="索引不存在时，先从该目录构建索引")
@click.option("--auth", default=None, help=f"登录账号，格式 用户名:密码（也可用环境变量 {AUTH_ENV}）")
@click.option("--model", default=None, help="检索使用的向量模型（默认使用索引中记录的模型）")
@click.option("--max-upload-mb", default=50.0, show_default=True, type=float, help="单个上传文件的大小上限（MB）")
def serve(
    host: str,
    port: int,
    index: str | None,
    corpus: str | None,
    auth: str | None,
    model: str | None,
    max_upload_mb: float,
) -> None:
    """启动网页界面（检索、问答、起草、文档、导入）。

    \b
    示例：
      perfsearch serve --corpus corpus            # 索引不存在时先从 corpus/ 构建
      perfsearch serve --port 8080 --index ./index
      perfsearch serve --host 0.0.0.0 --auth 科室:密码   # 在办公网络中共享时务必设置登录
    """
    t0 = time.perf_counter()
    from search.engine import Engine, EngineError
    from ui.app import EngineHolder, create_server

    credentials = parse_auth(auth if auth is not None else os.environ.get(AUTH_ENV))
    engine = Engine.open(index, model=model)
    if not engine.has_index():
        if corpus:
            build_index(engine, corpus)
        else:
            click.echo(
                f"提示：索引 {engine.index_dir} 还不存在。可以在网页的「导入」页上传文件，"
                "或用 --corpus 目录 先构建索引。",
                err=True,
            )
    elif hasattr(engine, "search_artifacts_current") and not engine.search_artifacts_current():
        click.echo("检索数据需要更新（模型或数据格式已变化），正在重建，请稍候……", err=True)
        try:
            engine.rebuild_search_index()
        except EngineError as exc:
            raise click.ClickException(str(exc)) from exc
    if not is_loopback(host) and credentials is None:
        click.echo(
            f"警告：正在 {host} 上对网络开放且未设置登录；建议加 --auth 用户名:密码 或设置环境变量 {AUTH_ENV}。",
            err=True,
        )
    server = create_server(
        EngineHolder(engine=engine), host=host, port=port, auth=credentials, max_upload_mb=max_upload_mb
    )
    try:
        server.start(timeout=120)
        if server.holder is not None and engine.has_index():
            # warm (index, search model, caches) before saying the server is ready; pages are
            # served meanwhile and a search sent now waits for the warm-up instead of failing
            click.echo("正在加载检索模型……", err=True)
            server.holder.start_warmup()
            server.holder.ready.wait(180)
        click.echo(
            f"绩效目标检索助手已启动：{server.url} （启动用时 {time.perf_counter() - t0:.1f} 秒；按 Ctrl+C 停止）",
            err=True,
        )
        while server.thread is not None and server.thread.is_alive():
            server.thread.join(timeout=1.0)
    except KeyboardInterrupt:
        click.echo("正在停止……", err=True)
    finally:
        server.stop()


def register(main: click.Group) -> None:
    main.add_command(serve)
