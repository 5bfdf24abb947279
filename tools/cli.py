"""`vllora-llm`: the command line. Subcommands live in their own modules and are imported on use.

    vllora-llm spec validate [PATH...]     check specs (built-ins + VLLORA_SPEC_PATH by default)
    vllora-llm spec render PROVIDER REQUEST.json [--stream] [--model M] [--operation chat|embeddings|images]
    vllora-llm spec transforms             list the named transforms with their examples
    vllora-llm spec matrix [--all] [--format md|json] [--write-readme [README.md]] [--operation embeddings|images]
    vllora-llm spec diff OLD.yaml NEW.yaml  classify the changes between two revisions of a spec
    vllora-llm spec docs PROVIDER           Markdown reference of one provider's spec
    vllora-llm demo                        the usage guide's examples against the local provider server
    vllora-llm chat --provider P --model M [--base-url U] [--stream] PROMPT
    vllora-llm mock-server [--host H] [--port P]

Exit codes: 0 success, 1 a failure the command reports (bad spec, rejected request, provider error),
2 usage errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


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
    render.add_argument("--stream", action="store_true", help="render the streaming call")
    render.add_argument("--model", help="override the request's model")
    render.add_argument("--base-url", help="render against this base URL")
    render.add_argument("--operation", choices=("chat", "embeddings", "images"), default="chat",
                        help="the operation the request is for (default chat)")
    spec_sub.add_parser("transforms", help="list the named transforms and their examples")
    matrix = spec_sub.add_parser("matrix", help="the parameter support table, computed from the specs")
    matrix.add_argument("--all", action="store_true", help="a column per spec on the search path, with targets")
    matrix.add_argument("--format", choices=("md", "json"), default="md")
    matrix.add_argument("--operation", choices=("chat", "embeddings", "images"), default="chat",
                        help="the table of another operation's parameters (default chat)")
    matrix.add_argument("--write-readme", nargs="?", const="README.md", metavar="README",
                        help="replace the table between the matrix markers of README (default README.md)")
    diff = spec_sub.add_parser("diff", help="classify the changes between two revisions of a spec")
    diff.add_argument("old", help="the old revision (a YAML file)")
    diff.add_argument("new", help="the new revision (a YAML file)")
    docs = spec_sub.add_parser("docs", help="Markdown reference of a provider spec")
    docs.add_argument("provider")

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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "spec":
        from . import spec_commands

        if args.spec_command == "validate":
            return spec_commands.validate(args.paths)
        if args.spec_command == "render":
            return spec_commands.render(
                args.provider, args.request, stream=args.stream, model=args.model, base_url=args.base_url,
                operation=args.operation,
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
        if args.spec_command == "docs":
            from .spec_docs import run as run_docs

            return run_docs(args.provider)
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
