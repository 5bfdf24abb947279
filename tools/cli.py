"""`vllora-llm`: the command line. Subcommands live in their own modules and are imported on use.

    vllora-llm spec validate [PATH...]     check specs (built-ins + VLLORA_SPEC_PATH by default)
    vllora-llm spec render PROVIDER REQUEST.json [--stream] [--model M] [--region R] [--option K=V]... [--api-version V]
                           [--operation chat|embeddings|images|responses]
    vllora-llm spec transforms             list the named transforms with their examples
    vllora-llm spec matrix [--all] [--format md|json] [--write-readme [README.md]]
                           [--operation embeddings|images|responses]
    vllora-llm spec diff OLD.yaml NEW.yaml  classify the changes between two revisions of a spec
    vllora-llm spec docs PROVIDER           Markdown reference of one provider's spec
    vllora-llm spec compile PROVIDER [--operation chat]   the source generated from a spec
    vllora-llm spec test [PROVIDER|PATH...] run the protocol tests beside specs (<name>.tests.yaml)

Every `spec` command takes `--spec-path DIR` (repeatable), and a spec file's path wherever a provider name goes.
    vllora-llm demo                        the usage guide's examples against the local provider server
    vllora-llm chat --provider P --model M [--base-url U] [--stream] PROMPT
    vllora-llm mock-server [--host H] [--port P]

Exit codes: 0 success, 1 a failure the command reports (bad spec, rejected request, provider error),
2 usage errors, 141 (128 + SIGPIPE, as a shell reports a tool killed by a closed pipe) when the reader of
the output went away (`vllora-llm spec render ... | head`): quietly, with no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ENV_VAR = "VLLORA_SPEC_PATH"


def use_spec_paths(args: argparse.Namespace) -> None:
    """`--spec-path DIR` and a spec file given where a provider name goes both join the search path (this
    process's `VLLORA_SPEC_PATH`, which every spec command reads); a file path is then used by its name."""
    folders = [str(Path(folder)) for folder in args.spec_path]
    provider = getattr(args, "provider", None)
    if provider and provider.endswith((".yaml", ".yml")) and Path(provider).is_file():
        folders.append(str(Path(provider).resolve().parent))
        args.provider = Path(provider).name.rsplit(".", 1)[0]
    for index, name in enumerate(getattr(args, "providers", None) or ()):
        if name.endswith((".yaml", ".yml")) and Path(name).is_file():
            folders.append(str(Path(name).resolve().parent))
            args.providers[index] = Path(name).name.rsplit(".", 1)[0].removesuffix(".tests")
    if folders:
        existing = os.environ.get(ENV_VAR)
        os.environ[ENV_VAR] = os.pathsep.join([*([existing] if existing else []), *folders])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vllora-llm", description="One chat-completions API across providers.")
    sub = parser.add_subparsers(dest="command", required=True)

    spec = sub.add_parser("spec", help="work with provider specs")
    spec_sub = spec.add_subparsers(dest="spec_command", required=True)
    validate = spec_sub.add_parser("validate", help="validate provider specs")
    validate.add_argument("paths", nargs="*", help="spec files or folders (default: every spec on the search path)")
    render = spec_sub.add_parser("render", help="print the wire request a provider would receive")
    render.add_argument("provider")
    render.add_argument("request", help="a JSON file in OpenAI's chat-completions shape ('-' for stdin)")
    render.add_argument("--stream", action="store_true",
                        help="render the streaming call (also when the request says \"stream\": true)")
    render.add_argument("--model", help="override the request's model")
    render.add_argument("--base-url", help="render against this base URL")
    render.add_argument("--region", help="the {region} of the endpoint (e.g. Bedrock's), instead of AWS_REGION")
    render.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="fill an endpoint placeholder the spec declares (repeatable)")
    render.add_argument("--api-version", help="render for another API version the spec declares (its versions:)")
    render.add_argument("--operation", choices=("chat", "embeddings", "images", "responses"), default="chat",
                        help="the operation the request is for (default chat)")
    spec_sub.add_parser("transforms", help="list the named transforms and their examples")
    matrix = spec_sub.add_parser("matrix", help="the parameter support table, computed from the specs")
    matrix.add_argument("--all", action="store_true", help="a column per spec on the search path, with targets")
    matrix.add_argument("--format", choices=("md", "json"), default="md")
    matrix.add_argument("--operation", choices=("chat", "embeddings", "images", "responses"), default="chat",
                        help="the table of another operation's parameters (default chat)")
    matrix.add_argument("--write-readme", nargs="?", const="README.md", metavar="README",
                        help="replace the table between the matrix markers of README (default README.md)")
    diff = spec_sub.add_parser("diff", help="classify the changes between two revisions of a spec")
    diff.add_argument("old", help="the old revision (a YAML file)")
    diff.add_argument("new", help="the new revision (a YAML file)")
    docs = spec_sub.add_parser("docs", help="Markdown reference of a provider spec")
    docs.add_argument("provider")
    compile_ = spec_sub.add_parser("compile", help="print the source the compiler generates from a spec")
    compile_.add_argument("provider")
    compile_.add_argument("--operation", default="chat", help="the operation whose mappings to print (chat)")
    migrate = spec_sub.add_parser("migrate", help="rewrite a vllora.dev/v1 spec file as vllora.dev/v2")
    migrate.add_argument("file", help="the v1 spec file")
    migrate.add_argument("-o", "--output", help="write the v2 spec here (default: stdout)")
    test = spec_sub.add_parser("test", help="run the protocol tests beside specs (<name>.tests.yaml)")
    test.add_argument("providers", nargs="*", help="provider names or spec files (default: every spec with tests)")
    for command in spec_sub.choices.values():
        command.add_argument("--spec-path", action="append", default=[], metavar="DIR",
                             help=f"also look for specs in DIR (repeatable; after {ENV_VAR}: its specs win)")

    sub.add_parser("demo", help="run the usage guide's examples against the built-in local provider server")

    chat = sub.add_parser("chat", help="one real chat call (key from the provider's env var)")
    chat.add_argument("--provider", required=True)
    chat.add_argument("--model", required=True)
    chat.add_argument("--base-url")
    chat.add_argument("--stream", action="store_true")
    chat.add_argument("prompt")

    mock = sub.add_parser("mock-server", help="run the local provider server")
    mock.add_argument("--host", default="127.0.0.1")
    mock.add_argument("--port", type=int, default=8765)
    return parser


CLOSED_PIPE_EXIT = 141
"""128 + SIGPIPE: what a shell reports for a tool the closed pipe stopped (`set -o pipefail` sees it)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Output into a closed pipe ends it quietly: the reader has all it wanted."""
    try:
        code = _run(argv)
        sys.stdout.flush()  # here, not at interpreter exit, where a closed pipe prints a traceback
    except BrokenPipeError:
        _silence_stdout()
        return CLOSED_PIPE_EXIT
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush of the unwritten rest does not fail."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (captured output): nothing is flushed at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "spec":
        from . import spec_commands

        use_spec_paths(args)
        if args.spec_command == "validate":
            return spec_commands.validate(args.paths)
        if args.spec_command == "render":
            return spec_commands.render(
                args.provider, args.request, stream=args.stream, model=args.model, base_url=args.base_url,
                options=[*args.option, *([f"region={args.region}"] if args.region is not None else [])],
                operation=args.operation, api_version=args.api_version,
            )
        if args.spec_command == "matrix":
            from .matrix import run as run_matrix

            if args.operation != "chat":
                from .matrix_ops import run as run_operation_matrix

                return run_operation_matrix(args.operation, args.format)

            return run_matrix(args.all, args.format, args.write_readme)
        if args.spec_command == "diff":
            from .spec_diff import run as run_diff

            return run_diff(args.old, args.new)
        if args.spec_command == "test":
            from .spec_test import run as run_tests

            return run_tests(args.providers)
        if args.spec_command == "docs":
            from .spec_docs import run as run_docs

            return run_docs(args.provider)
        if args.spec_command == "migrate":
            from .spec_migrate import run as run_migrate

            return run_migrate(args.file, args.output)
        if args.spec_command == "compile":
            from .spec_compile import run as run_compile

            return run_compile(args.provider, args.operation)
        return spec_commands.transforms()
    if args.command == "demo":
        from .demo import run_demo

        return run_demo()
    if args.command == "chat":
        from .chat import run_chat

        return run_chat(args.provider, args.model, args.prompt, base_url=args.base_url, stream=args.stream)
    if args.command == "mock-server":
        from vllora_llm.testing import run_server

        run_server(args.host, args.port)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
