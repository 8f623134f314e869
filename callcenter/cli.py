"""`callcenter` command line: serve, demo, pbx, dialplan, config, explain."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from callcenter import trace
from callcenter.api.auth import ROLES
from callcenter.applications_cli import COMMANDS as APPLICATION_COMMANDS
from callcenter.applications_cli import add_commands as add_application_commands
from callcenter.config import NO_PBX, Config, ConfigError, load_config, recordings_root
from callcenter.data.commands import add_commands as add_data_commands
from callcenter.data.logmask import install as install_log_masking
from callcenter.paths import REPO
from callcenter.pbx.base import SandboxError
from callcenter.pbx.registry import DEFAULT_KIND, KINDS, node_named, sandbox_up, wing
from callcenter.phone_secrets import generate as generate_phone_secrets
from callcenter.phone_secrets import phone_passwords

DEFAULT_CONFIG = REPO / "config"
ENGINE_COMMANDS = ("serve", "demo", "pbx", "config")


def build_parser() -> argparse.ArgumentParser:
    """Every command and option (docs/cli.md is generated from it: tools/build_docs.py)."""
    parser = argparse.ArgumentParser(prog="callcenter", description="12345 hotline engine")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="config directory")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="log each caller's join-to-ring stages with their times (logger callcenter.trace; "
        "tools/bench_e2e.py --trace reads them)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve",
        help="run the engine",
        description="Run the engine and its HTTP API (bound to 127.0.0.1). The API needs "
        "tokens: CALLCENTER_TOKENS_FILE (see `callcenter token add`) or CALLCENTER_API_TOKEN. "
        "Without any, serve refuses to start unless --open-loopback is given; a tokens file "
        "it cannot read stops it at start, with one line naming the file.",
    )
    serve.add_argument("--sandbox", action="store_true", help="use (and start) the sandbox PBX")
    serve.add_argument(
        "--open-loopback",
        action="store_true",
        help="with no API token configured, let every loopback client in as admin: for the "
        "demo and the sandbox only (behind a reverse proxy on this host, everyone would be "
        "admin)",
    )
    serve.add_argument("--http-port", type=int, default=8345)
    serve.add_argument("--db", default="", help="SQLAlchemy URL (default: config storage.url)")

    demo = sub.add_parser("demo", help="sandbox PBX + engine + softphone agents + sipp callers")
    demo.add_argument("--calls", type=int, default=40)
    demo.add_argument("--rate", type=float, default=0.4, help="calls per second")
    demo.add_argument("--talk", default="2:6", help="MIN:MAX seconds agents talk")
    demo.add_argument("--keep-pbx", action="store_true", help="leave the sandbox PBX running")
    demo.add_argument(
        "--pbx",
        choices=sorted(KINDS),
        default="",
        help="the media server's kind (default: the first node's in center.toml)",
    )

    pbx = sub.add_parser(
        "pbx", help="the sandbox PBX of a node (its kind's), or N nodes behind the SIP proxy"
    )
    pbx.add_argument("action", choices=["up", "down", "status", "cli", "drain", "undrain"])
    pbx.add_argument(
        "args", nargs="*", help="for cli: the PBX's own CLI command; for drain/undrain: NODE"
    )
    pbx.add_argument("--node", default="", help="node name from config (default: the first)")
    pbx.add_argument(
        "--nodes",
        type=int,
        default=0,
        help="up/down/status: the first N nodes and the SIP proxy ([pbx.proxy]) in front",
    )
    pbx.add_argument(
        "--wait",
        type=float,
        default=3600.0,
        help="drain: wait up to this many seconds for the node's calls to end",
    )

    dialplan = sub.add_parser(
        "dialplan", help="render or check the dialplan of a node, for its PBX kind"
    )
    dialplan.add_argument("action", choices=["render", "check"])
    dialplan.add_argument("--out", default="", help="directory for rendered files")
    dialplan.add_argument("--node", default="", help="node name from config (default: the first)")

    agents_cmd = sub.add_parser(
        "agents",
        help="agents' phones: SIP passwords in the store center.toml [phones] names",
        description="`agents secrets generate` writes a random SIP password for every agent "
        "and supervisor phone that has none into center.toml [phones] secrets_file (created "
        "with mode 0600); existing passwords are never replaced. `agents secrets check` "
        "says whether every phone has one (file or environment), naming those that do not.",
    )
    agents_cmd.add_argument("what", choices=["secrets"])
    agents_cmd.add_argument("action", choices=["generate", "check"])

    config_cmd = sub.add_parser(
        "config",
        help="validate config, or write the config files' JSON Schemas",
        description="`config check` loads the config folder and says every mistake (file, "
        "key, what is allowed). `config schema` writes the JSON Schema of each config file "
        "(center.schema.json, ...) for editors, without reading the config.",
    )
    config_cmd.add_argument("action", choices=["check", "schema"])
    config_cmd.add_argument("--out", default="schema", help="schema: output folder")

    ivr_cmd = sub.add_parser("ivr", help="IVR menus: walk a menu without a PBX, build prompts")
    ivr_cmd.add_argument("action", choices=["test", "prompts"])
    ivr_cmd.add_argument("did", nargs="?", default="", help="test: the number dialled")
    ivr_cmd.add_argument("digits", nargs="?", default="", help="test: keys pressed, t = timeout")
    ivr_cmd.add_argument("--at", default="", help="test: ISO time (default: now)")
    ivr_cmd.add_argument("--out", default="var/prompts", help="prompts: output folder")

    rec = sub.add_parser("recordings", help="recordings: index files on disk, apply retention")
    rec.add_argument("action", choices=["sweep", "purge"])
    rec.add_argument("--dry-run", action="store_true", help="purge: say what would go")
    rec.add_argument("--db", default="", help="SQLAlchemy URL (default: config storage.url)")

    explain = sub.add_parser(
        "explain",
        help="tell a call's story: why it was offered to whom, or why it waited",
        description="Print a call's story from the decision log (config/decisions.toml) and "
        "the calls table (number masked), with times relative to its arrival, ending with "
        "why it waited while an agent was free. Exit 1 when no record knows the call.",
    )
    explain.add_argument("call_id")
    explain.add_argument("--db", default="", help="SQLAlchemy URL (default: config storage.url)")
    explain.add_argument("--json", action="store_true", help="the story as JSON")

    token = sub.add_parser("token", help="API tokens (hashed in CALLCENTER_TOKENS_FILE)")
    token.add_argument("action", choices=["add"])
    token.add_argument("name")
    token.add_argument("--role", required=True, choices=ROLES)
    token.add_argument("--department", default="")

    add_data_commands(sub)
    add_application_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    install_log_masking()  # no phone or ID number reaches a log line
    if not args.verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.trace:
        trace.enable()
    if args.command == "config" and args.action == "schema":
        return config_schema_command(Path(args.out))
    try:  # the engine's commands need a PBX node; data and report commands do without
        config = load_config(args.config, need_pbx=args.command in ENGINE_COMMANDS)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        if args.command == "config":
            return config_check(config)
        if args.command == "ivr":
            return ivr_command(config, args.action, args.did, args.digits, args.at, args.out)
        if args.command == "recordings":
            return recordings_command(config, args.action, args.dry_run, args.db)
        if args.command in APPLICATION_COMMANDS:
            from callcenter.applications_cli import run as application_command

            return application_command(config, args)
        if args.command == "data":
            from callcenter.data.commands import run as data_command

            return data_command(config, args)
        if args.command == "explain":
            return explain_command(config, args.call_id, args.db, args.json)
        if args.command == "token":
            return token_command(args.name, args.role, args.department)
        if args.command == "dialplan":
            return dialplan_command(config, args.action, args.out, args.node)
        if args.command == "agents":
            return agents_secrets_command(config, args.action)
        if args.command == "pbx":
            if args.action in ("drain", "undrain") or args.nodes:
                return nodes_command(config, args.action, args.nodes, args.args, args.wait)
            return pbx_command(config, args.action, args.node, args.args)
        if args.command == "serve":
            return serve_command(config, args.sandbox, args.http_port, args.db, args.open_loopback)
        if args.command == "demo":
            from callcenter.demo import run_demo

            talk = tuple(float(x) for x in args.talk.split(":"))
            return run_demo(
                config, args.calls, args.rate, (talk[0], talk[-1]), args.keep_pbx, args.pbx
            )
    except (SandboxError, ConfigError) as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return 1
    return 0


def ivr_command(config: Config, action: str, did: str, digits: str, at: str, out: str) -> int:
    from datetime import UTC, datetime

    from ivr.walk import walk

    if config.ivr is None:
        print(f"no ivr.toml in {config.source_dir}", file=sys.stderr)
        return 1
    if action == "prompts":
        from callcenter.prompts import build_prompts, prompt_texts

        texts = prompt_texts(config.ivr, with_recorded=False)
        for built in build_prompts(texts, Path(out)):
            print(f"{built.how:12} {built.path}")
        return 0
    if not did:
        print("usage: callcenter ivr test DID [DIGITS] [--at ISO-TIME]", file=sys.stderr)
        return 2
    when = datetime.fromisoformat(at) if at else datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    result = walk(config.ivr, did, digits, when, config.number_for(did).skill)
    print("\n".join(result.lines(config.ivr)))
    return 0


def recordings_command(config: Config, action: str, dry_run: bool, db_url: str) -> int:
    import time

    from callcenter.bus import Bus
    from callcenter.recordings.indexer import RecordingIndexer
    from callcenter.recordings.retention import purge
    from callcenter.service import ServiceOptions, storage_url
    from callcenter.storage.database import Database

    database = Database(storage_url(config, ServiceOptions(db_url=db_url, workdir=REPO)))
    database.upgrade()
    root = recordings_root(config, REPO)
    if action == "sweep":
        indexer = RecordingIndexer(database, root, Bus().subscribe("cli"))
        print(f"indexed {indexer.sweep()} recordings found under {root}")
        return 0
    days = config.recordings.retention_days
    gone = database.transaction(lambda s: purge(s, root, time.time(), days, dry_run))
    verb = "would delete" if dry_run else "deleted"
    for p in gone:
        print(f"{verb} {p.call_id} ({p.bytes} bytes): {', '.join(p.files) or 'no files left'}")
    print(f"{verb} {len(gone)} recordings older than {days} days under {root}")
    return 0


def explain_command(config: Config, call_id: str, db_url: str, as_json: bool) -> int:
    import json
    from zoneinfo import ZoneInfo

    from callcenter.data.crypto import KeyConfigError, load_cipher
    from callcenter.decisions.service import explain
    from callcenter.decisions.settings import load_decision_settings
    from callcenter.service import ServiceOptions, storage_url
    from callcenter.storage.database import Database

    try:
        settings = load_decision_settings(config.source_dir)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    directory = settings.path(REPO)
    try:  # without the data key the story is told, the caller's number left out
        cipher = load_cipher()
    except KeyConfigError:
        cipher = None
    database = Database(storage_url(config, ServiceOptions(db_url=db_url, workdir=REPO)))
    try:
        skills = {a.id: a.skills for a in config.agents}
        zone = ZoneInfo(config.center.timezone)
        story = explain(directory, zone, call_id, database, cipher, skills)
    finally:
        database.close()
    if story is None:
        print(
            f"callcenter: no call {call_id!r} in the calls table or the decision log ({directory})",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(story.as_json(), ensure_ascii=False, indent=2) if as_json else story.text())
    return 0


def token_command(name: str, role: str, department: str) -> int:
    from callcenter.api.auth import add_token, load_tokens

    path = Path(os.environ.get("CALLCENTER_TOKENS_FILE", "var/tokens.toml"))
    try:  # a file serve could not read gets no new token (which would not work either)
        if path.exists():
            load_tokens(path)
        token = add_token(path, name, role, department)
    except ValueError as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return 2
    print(f"token for {name} ({role}) added to {path}; shown once:\n{token}")
    return 0


def config_check(config: Config) -> int:
    print(
        f"config ok: {len(config.numbers)} numbers, {len(config.skills)} skills, "
        f"{len(config.agents)} agents, {len(config.nodes)} PBX nodes, "
        f"strategy {config.queue.strategy.value}"
    )
    return 0


def config_schema_command(out: Path) -> int:
    from callcenter.config_schema import write

    for path in write(out):
        print(f"wrote {path}")
    return 0


def agents_secrets_command(config: Config, action: str) -> int:
    if action == "generate":
        path, added = generate_phone_secrets(config)
        print(f"{path}: {len(added)} new SIP passwords ({', '.join(added) or 'none needed'})")
        return 0
    found = phone_passwords(config)
    print(f"every phone has a SIP password ({len(found)} phones)")
    return 0


def dialplan_command(config: Config, action: str, out: str, node_name: str = "") -> int:
    """Render or check the named node's dialplan (default: the first node's) through the wing
    of its kind (the default kind's when the config has no node: a check needs none)."""
    if action != "check" and not config.nodes:
        raise ConfigError("center.toml", "pbx.nodes", NO_PBX)
    if not config.nodes:
        return wing(DEFAULT_KIND).dialplan(config, None, action, out)
    node = node_named(config, node_name)
    return wing(node.kind).dialplan(config, node, action, out)


def pbx_command(config: Config, action: str, node_name: str, rest: list[str]) -> int:
    node = node_named(config, node_name)
    return wing(node.kind).sandbox(config, node, action, rest)


def nodes_command(config: Config, action: str, count: int, rest: list[str], wait: float) -> int:
    """Several nodes and the SIP proxy in front of them (`--nodes N`), or draining a node."""
    from callcenter.pbx import proxy

    if action in ("drain", "undrain"):
        if len(rest) != 1:
            print(f"callcenter: pbx {action} takes one node name", file=sys.stderr)
            return 2
        node = node_named(config, rest[0])
        try:
            if action == "undrain":
                proxy.undrain_node(config, node)
                print(f"node {node.name}: takes calls again once the proxy's probe finds it up")
                return 0
            return 1 if proxy.drain_node(config, node, wait) else 0
        except proxy.ProxyError as exc:
            print(f"callcenter: {exc}", file=sys.stderr)
            return 1
    if action == "cli" or count < 1:
        print("callcenter: --nodes N (N >= 1) goes with up, down or status", file=sys.stderr)
        return 2
    if count > len(config.nodes):
        raise ConfigError(
            "center.toml",
            "pbx.nodes",
            f"--nodes {count}: the config lists {len(config.nodes)} node(s)",
        )
    sandbox = proxy.sandbox_of(config) if count > 1 or config.proxy else None
    nodes = config.nodes[:count]
    if action == "down" and sandbox is not None:
        sandbox.stop()
        print("sandbox proxy stopped")
    code = 0
    for node in nodes:
        code = max(code, wing(node.kind).sandbox(config, node, action, []))
    if action == "up" and sandbox is not None:
        sandbox.render(config)
        running = sandbox.running()
        sandbox.start()
        if running:
            sandbox.reload()
        p = sandbox.proxy
        print(
            f"sandbox proxy up: SIP {p.host}:{p.sip_port} (agents register here), "
            f"control {p.control_url}"
        )
    if action == "status" and sandbox is not None:
        if not sandbox.running():
            print("sandbox proxy: stopped")
            return 3
        print(f"sandbox proxy: running (pid {sandbox.pid()})")
        try:
            for line in proxy.status_lines(config):
                print(line)
        except proxy.ProxyError as exc:
            print(f"callcenter: {exc}", file=sys.stderr)
            return 1
    return code


def api_access_problem(open_loopback: bool) -> str:
    """Why the API could not let anyone in safely ("" when it can): a tokens file it cannot
    read, or no token at all without --open-loopback."""
    from callcenter.api.auth import ADMIN_TOKEN_ENV, TOKENS_FILE_ENV, configured_tokens

    try:
        admin, entries = configured_tokens()
    except ValueError as exc:
        return str(exc)
    if admin or entries or open_loopback:
        return ""
    return (
        f"no API tokens: set {TOKENS_FILE_ENV} (callcenter token add) or {ADMIN_TOKEN_ENV}, "
        "or pass --open-loopback to let loopback clients in as admin (demo and sandbox only)"
    )


def serve_command(
    config: Config, sandbox: bool, http_port: int, db: str, open_loopback: bool = False
) -> int:
    from callcenter.data.crypto import KeyConfigError, load_cipher, sandbox_cipher
    from callcenter.service import Service, ServiceOptions

    try:  # keys first: without them nothing starts (and nothing is written)
        cipher = sandbox_cipher(REPO) if sandbox else load_cipher()
    except KeyConfigError as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return 2
    problem = api_access_problem(open_loopback)  # then who may use the API
    if problem:
        print(f"callcenter: {problem}", file=sys.stderr)
        return 2
    secrets: dict[str, str] = {}
    if sandbox:
        for node in config.nodes:
            instance = sandbox_up(config, node.name)
            secrets[node.name] = instance.control_secret()
    options = ServiceOptions(
        db_url=db,
        http_port=http_port,
        secrets=secrets,
        workdir=REPO,
        cipher=cipher,
        open_loopback=open_loopback,
    )
    service = Service(config, options)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, service.stop)
        watch = trace.watch_loop()
        try:
            await service.run()
        finally:
            if watch is not None:
                watch.close()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
