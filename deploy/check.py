"""The checks behind deploy/check.sh that need parsing or a running process.

`static` reads the Dockerfile, .dockerignore, docker-compose.yml and deploy/gatehouse.env,
checks that they agree with each other, and lays out the Docker build context (only the files
the builder stage copies) in a directory where check.sh then runs the builder's own `cargo
build` command. `runtime` takes the binary built that way and checks what the images and
units rely on: its libraries exist in the runtime image, every shipped configuration passes
`gatehouse config check`, the HEALTHCHECK command tells a live server from a stopped one, it
stops on SIGTERM within the grace period, and (when nginx is at hand) deploy/nginx.conf passes
`nginx -t` and proxies to it.

Each check prints `ok:`, `SKIPPED:` or `FAILED:`; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAILED = False


def ok(message: str) -> None:
    print(f"  ok: {message}", flush=True)


def skip(message: str) -> None:
    print(f"  SKIPPED: {message}", flush=True)


def fail(message: str) -> None:
    global FAILED
    FAILED = True
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    print(f"  FAILED: {' | '.join(lines)}", flush=True)


def check(condition: bool, message: str, problem: str = "") -> bool:
    if condition:
        ok(message)
    else:
        fail(f"{message}: {problem}" if problem else message)
    return condition


# ---------------------------------------------------------------------------------------------
# Dockerfile


class Instruction:
    def __init__(self, line: int, keyword: str, rest: str):
        self.line, self.keyword, self.rest = line, keyword, rest

    def __repr__(self) -> str:
        return f"Dockerfile:{self.line} {self.keyword} {self.rest}"


class Stage:
    def __init__(self, image: str, name: str | None):
        self.image, self.name = image, name
        self.instructions: list[Instruction] = []

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def read_instructions(text: str) -> list[Instruction]:
    """Joins continuation lines and drops comments, as Docker's parser does."""
    instructions, buffer, start = [], "", None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and buffer == ""):
            continue
        if not stripped:
            continue
        if start is None:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        buffer += stripped
        keyword, _, rest = buffer.partition(" ")
        instructions.append(Instruction(start, keyword.upper(), rest.strip()))
        buffer, start = "", None
    return instructions


def substitute(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), text)


def read_stages(instructions: list[Instruction]) -> list[Stage]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "ARG" and not stages:
            name, _, default = instruction.rest.partition("=")
            global_args[name.strip()] = default.strip()
        elif instruction.keyword == "FROM":
            words = [w for w in instruction.rest.split() if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(substitute(words[0], global_args), name))
        elif stages:
            stages[-1].instructions.append(instruction)
    return stages


def split_flags(words: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    flags: dict[str, list[str]] = {}
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags.setdefault(name, []).append(value)
    return flags, words


def exec_form(rest: str) -> list[str] | None:
    """The JSON array of a CMD/ENTRYPOINT/HEALTHCHECK CMD, or None for the shell form."""
    try:
        value = json.loads(rest)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a RUN line, split at &&, ||, ; and |."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, current = [], []
    for token in lexer:
        if token in ("&&", "||", ";", "|", "&"):
            commands.append(current)
            current = []
        else:
            current.append(token)
    commands.append(current)
    return [c for c in commands if c]


def env_pairs(rest: str) -> dict[str, str]:
    words = shlex.split(rest)
    if len(words) >= 2 and "=" not in words[0]:  # legacy `ENV NAME value`
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


# ---------------------------------------------------------------------------------------------
# .dockerignore


def ignore_rules(path: Path) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    if not path.exists():
        return rules
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip().lstrip("/")
        pattern = pattern.removeprefix("./")
        regex, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((negate, re.compile(regex.rstrip("/") + r"\Z")))
    return rules


def is_ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matching a directory covers
    everything under it."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for negate, regex in rules:
        if any(regex.match(p) for p in prefixes):
            ignored = not negate
    return ignored


# ---------------------------------------------------------------------------------------------
# static


def check_dockerfile(context_dir: Path) -> dict:
    print("\n-- Dockerfile and .dockerignore", flush=True)
    dockerfile = ROOT / "Dockerfile"
    stages = read_stages(read_instructions(dockerfile.read_text()))
    facts: dict = {}
    if not check(len(stages) >= 2, "Dockerfile has a build stage and a runtime stage", f"{len(stages)} stage(s)"):
        return facts
    builder = next((s for s in stages if s.name == "builder"), None)
    runtime = stages[-1]
    if not check(builder is not None, "a stage is named `builder`"):
        return facts
    check(
        bool(re.fullmatch(r"rust:1\.\d+-bookworm", builder.image)),
        f"builder is the official Rust image with a pinned minor: {builder.image}",
    )
    check(
        "debian12" in runtime.image or "bookworm" in runtime.image,
        f"runtime image {runtime.image} is Debian 12, the glibc the builder ({builder.image}) links against",
    )

    rules = ignore_rules(ROOT / ".dockerignore")
    for needed in ("target", ".git", "gatehouse.db", ".env"):
        check(is_ignored(needed, rules), f".dockerignore leaves out {needed}")

    # The builder: WORKDIR, COPY sources, the cargo command.
    workdirs = builder.all("WORKDIR")
    workdir = workdirs[-1].rest if workdirs else "/"
    layout: dict[str, Path] = {}  # path in the build directory -> file in the repository
    copies_ok = True
    for copy in builder.all("COPY") + builder.all("ADD"):
        flags, words = split_flags(exec_form(copy.rest) or shlex.split(copy.rest))
        if "from" in flags:
            continue
        *sources, dest = words
        target = os.path.normpath(os.path.join(workdir, dest))
        if not (target + "/").startswith(workdir.rstrip("/") + "/"):
            fail(f"{copy}: copies outside WORKDIR {workdir}; check.py cannot lay that out")
            copies_ok = False
            continue
        for source in sources:
            path = ROOT / source
            if not path.exists():
                fail(f"{copy}: the source {source} does not exist")
                copies_ok = False
                continue
            if is_ignored(os.path.normpath(source), rules):
                fail(f"{copy}: the source {source} is excluded by .dockerignore")
                copies_ok = False
                continue
            base = os.path.relpath(target, workdir)
            if path.is_dir():
                for file in sorted(path.rglob("*")):
                    rel = file.relative_to(ROOT).as_posix()
                    if file.is_file() and not is_ignored(rel, rules):
                        layout[os.path.normpath(os.path.join(base, file.relative_to(path).as_posix()))] = file
            elif dest.endswith("/") or len(sources) > 1:
                layout[os.path.normpath(os.path.join(base, path.name))] = path
            else:
                layout[os.path.normpath(base)] = path
    if copies_ok:
        ok(f"every COPY source of the builder exists and is in the build context ({len(layout)} files)")

    build_runs = []
    for run in builder.all("RUN"):
        _, words = split_flags(shlex.split(run.rest, posix=False))
        for command in shell_commands(" ".join(words)):
            if command[:2] == ["cargo", "build"]:
                build_runs.append((run, command))
    if check(len(build_runs) == 1, "the builder runs `cargo build` exactly once", f"found {len(build_runs)}"):
        run, command = build_runs[0]
        expected = ["cargo", "build", "--release", "--locked"]
        if check(command == expected, f"its command is `{' '.join(expected)}`", f"found `{' '.join(command)}`"):
            facts["build_command"] = command
        check(
            "target/release/gatehouse" in run.rest,
            "the same RUN copies target/release/gatehouse out of the cache mount",
        )

    # The runtime stage.
    copies_from = [split_flags(shlex.split(c.rest)) for c in runtime.all("COPY")]
    builder_text = " ".join(r.rest for r in builder.all("RUN"))
    binary_path = None
    for flags, words in copies_from:
        if flags.get("from") == ["builder"]:
            *sources, dest = words
            for source in sources:
                check(source in builder_text, f"COPY --from=builder {source}: made by the builder's RUN")
            if any(s.endswith("/gatehouse") for s in sources):
                binary_path = dest
    users = runtime.all("USER")
    user = users[-1].rest if users else "root"
    check(user.split(":")[0] not in ("root", "0"), f"runtime runs as a non-root user ({user})")
    env: dict[str, str] = {}
    for instruction in runtime.all("ENV"):
        env.update(env_pairs(instruction.rest))
    facts["docker_env"] = env
    bind = env.get("GATEHOUSE_BIND", "")
    exposed = {w.split("/")[0] for i in runtime.all("EXPOSE") for w in i.rest.split()}
    check(bind.startswith("0.0.0.0:"), f"ENV GATEHOUSE_BIND={bind} listens on every container interface")
    check(bind.rpartition(":")[2] in exposed, f"EXPOSE {' '.join(sorted(exposed))} includes the port of GATEHOUSE_BIND")
    database = env.get("GATEHOUSE_DATABASE_URL", "")
    volumes = set()
    for instruction in runtime.all("VOLUME"):
        volumes.update(exec_form(instruction.rest) or instruction.rest.split())
    db_dir = os.path.dirname(urllib.parse.urlparse(database).path) if database.startswith("sqlite://") else None
    check(db_dir in volumes, f"the SQLite database ({database}) is in a VOLUME ({', '.join(sorted(volumes))})")
    workdirs = runtime.all("WORKDIR")
    facts["docker_workdir"] = workdirs[-1].rest if workdirs else "/"

    entrypoints = runtime.all("ENTRYPOINT")
    entrypoint = exec_form(entrypoints[-1].rest) if entrypoints else None
    check(
        bool(entrypoint) and entrypoint[0] == binary_path,
        f"ENTRYPOINT (exec form) is the binary copied from the builder ({binary_path})",
    )
    healthchecks = runtime.all("HEALTHCHECK")
    healthcheck = None
    if check(len(healthchecks) == 1, "the runtime stage has a HEALTHCHECK"):
        rest = healthchecks[0].rest
        _, words = split_flags(rest.split())
        command = " ".join(words)
        if command.upper().startswith("CMD "):
            healthcheck = exec_form(command[4:].strip())
        if check(
            bool(healthcheck) and healthcheck[0] == binary_path,
            "HEALTHCHECK is an exec-form CMD of the binary itself (no shell in distroless)",
            rest,
        ):
            facts["healthcheck"] = healthcheck
    stop = runtime.all("STOPSIGNAL")
    check(not stop or stop[-1].rest in ("SIGTERM", "15"), "the stop signal is SIGTERM, which gatehouse handles")

    # Lay out the build context: exactly the files the builder copies, with their mtimes, so
    # that cargo's fingerprints stay fresh between runs.
    if copies_ok:
        context_dir.mkdir(parents=True, exist_ok=True)
        for existing in sorted(context_dir.rglob("*"), reverse=True):
            rel = existing.relative_to(context_dir).as_posix()
            if existing.is_file() and rel not in layout:
                existing.unlink()
            elif existing.is_dir() and not any(existing.iterdir()):
                existing.rmdir()
        for rel, source in layout.items():
            target = context_dir / rel
            stat = source.stat()
            if target.exists():
                mine = target.stat()
                if mine.st_size == stat.st_size and int(mine.st_mtime) == int(stat.st_mtime):
                    continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        facts["context_dir"] = str(context_dir)
        ok(f"the builder's files are laid out in {context_dir}")
    return facts


def load_yaml(path: Path):
    try:
        from ruamel.yaml import YAML

        return YAML(typ="safe").load(path.read_text())
    except ImportError:
        import yaml  # PyYAML

        return yaml.safe_load(path.read_text())


def duration_seconds(value) -> float:
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)", str(value)):
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[unit]
    return total


def check_compose(facts: dict) -> None:
    print("\n-- docker-compose.yml (beyond the schema)", flush=True)
    try:
        compose = load_yaml(ROOT / "docker-compose.yml")
    except ImportError:
        skip("no YAML parser (ruamel.yaml or PyYAML) in this Python; the compose semantics are unchecked")
        return
    services: dict = compose.get("services", {})
    check(
        {"gatehouse", "postgres", "redis", "mailpit"} <= set(services),
        f"services: {', '.join(services)}",
        "expected gatehouse, postgres, redis and mailpit",
    )
    for name, service in services.items():
        health = service.get("healthcheck") or {}
        check(
            bool(health.get("test")) and not health.get("disable"),
            f"{name} has a healthcheck ({' '.join(health.get('test', [])) if isinstance(health.get('test'), list) else health.get('test')})",
        )
        depends = service.get("depends_on", {})
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        for target, how in depends.items():
            exists = target in services
            check(exists, f"{name} depends on {target}, which is a service")
            if exists:
                check(
                    how.get("condition") == "service_healthy" and bool(services[target].get("healthcheck")),
                    f"{name} waits for {target} to be healthy, and {target} has a healthcheck",
                )

    # Volumes: every named one declared, every declared one used.
    declared = set((compose.get("volumes") or {}).keys())
    used = set()
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.get("source") if isinstance(volume, dict) else volume.split(":")[0]
            kind = volume.get("type", "volume") if isinstance(volume, dict) else "volume"
            if kind == "volume" and source and not source.startswith((".", "/", "~")):
                used.add(source)
                check(source in declared, f"{name}'s volume {source} is declared under volumes:")
    check(declared <= used, f"every declared volume is used ({', '.join(sorted(declared))})", str(declared - used))

    # Ports: no host port twice.
    published: dict[str, str] = {}
    gatehouse_ports = []
    for name, service in services.items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                host, container, ip = str(port.get("published")), str(port.get("target")), port.get("host_ip", "")
            else:
                *front, container = str(port).split(":")
                host = front[-1] if front else container
                ip = front[0] if len(front) == 2 else ""
            key = f"{ip}:{host}"
            check(key not in published, f"{name} publishes {port}", f"host port also used by {published.get(key)}")
            published[key] = name
            if name == "gatehouse":
                gatehouse_ports.append((host, container))

    gatehouse = services.get("gatehouse", {})
    build = gatehouse.get("build")
    context = build if isinstance(build, str) else (build or {}).get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else (build or {}).get("dockerfile", "Dockerfile")
    check((ROOT / context / dockerfile).exists(), f"gatehouse is built from {context}/{dockerfile}")
    env = gatehouse.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    env = {k: str(v) for k, v in env.items()}
    facts["compose_env"] = env

    bind_port = env.get("GATEHOUSE_BIND", "").rpartition(":")[2]
    public = urllib.parse.urlparse(env.get("GATEHOUSE_PUBLIC_URL", ""))
    check(
        any(c == bind_port for _, c in gatehouse_ports),
        f"gatehouse publishes its GATEHOUSE_BIND port {bind_port}",
    )
    check(
        public.hostname in ("localhost", "127.0.0.1")
        and any(h == str(public.port or 80) and c == bind_port for h, c in gatehouse_ports),
        f"the links in emails ({env.get('GATEHOUSE_PUBLIC_URL')}) reach the published port from the host",
    )
    for variable, service, port in (
        ("GATEHOUSE_DATABASE_URL", "postgres", 5432),
        ("GATEHOUSE_REDIS_URL", "redis", 6379),
        ("GATEHOUSE_SMTP_URL", "mailpit", 1025),
    ):
        url = urllib.parse.urlparse(env.get(variable, ""))
        check(
            url.hostname == service and (url.port or port) == port,
            f"{variable} points at the {service} service on port {port}",
            env.get(variable, "(unset)"),
        )
    postgres_env = services.get("postgres", {}).get("environment", {})
    db = urllib.parse.urlparse(env.get("GATEHOUSE_DATABASE_URL", ""))
    check(
        (db.username, db.password, db.path.lstrip("/"))
        == (postgres_env.get("POSTGRES_USER"), postgres_env.get("POSTGRES_PASSWORD"), postgres_env.get("POSTGRES_DB")),
        "the database URL's user, password and database are the ones the postgres service creates",
    )
    test = (gatehouse.get("healthcheck") or {}).get("test", [])
    if "healthcheck" in facts:
        check(
            test == ["CMD", *facts["healthcheck"]],
            "gatehouse's compose healthcheck is the Dockerfile's HEALTHCHECK command",
            f"{test} vs {facts['healthcheck']}",
        )
    grace = duration_seconds(gatehouse.get("stop_grace_period", "10s"))
    check(grace >= 35, f"gatehouse's stop_grace_period ({grace:g}s) covers the 30 s mail-worker grace")


def parse_environment_file(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """systemd's EnvironmentFile= syntax: NAME=value, # or ; comments, optional quotes.
    Returns the active settings and the commented-out examples."""
    active, examples = {}, {}
    for line in path.read_text().splitlines():
        line = line.strip()
        example = re.fullmatch(r"[#;]\s*(GATEHOUSE_[A-Z0-9_]+)=(.*)", line)
        if example:
            examples[example.group(1)] = example.group(2)
            continue
        if not line or line[0] in "#;":
            continue
        name, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            fail(f"{path.name}: not NAME=value: {line}")
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        active[name] = value
    return active, examples


def check_unit_files(facts: dict) -> None:
    print("\n-- deploy/gatehouse.service and deploy/gatehouse.env (static)", flush=True)
    unit = (ROOT / "deploy/gatehouse.service").read_text()
    settings: dict[str, list[str]] = {}
    for line in unit.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    exec_start = settings.get("ExecStart", [""])[0].split()
    facts["unit_exec_start"] = exec_start
    check(exec_start[:1] == ["/usr/local/bin/gatehouse"], f"ExecStart={' '.join(exec_start)}")
    check(
        duration_seconds(settings.get("TimeoutStopSec", ["0"])[0] + "s") >= 35,
        "TimeoutStopSec covers the 30 s mail-worker grace",
    )
    state = settings.get("StateDirectory", [""])[0]
    check(
        settings.get("WorkingDirectory", [""])[0] == f"/var/lib/{state}",
        "the working directory is the state directory, so the default sqlite://gatehouse.db lands there",
    )
    active, examples = parse_environment_file(ROOT / "deploy/gatehouse.env")
    facts["unit_env"] = active
    facts["unit_env_examples"] = examples
    database = active.get("GATEHOUSE_DATABASE_URL", "sqlite://gatehouse.db")
    if database.startswith("sqlite://"):
        path = urllib.parse.urlparse(database).path or "gatehouse.db"
        check(
            not path.startswith("/") or path.startswith(f"/var/lib/{state}/"),
            f"gatehouse.env's SQLite database ({database}) is in the state directory, the one writable place",
        )


def static(args: argparse.Namespace) -> int:
    facts = check_dockerfile(Path(args.context_dir))
    check_compose(facts)
    check_unit_files(facts)
    Path(args.facts).write_text(json.dumps(facts, indent=2))
    return 1 if FAILED else 0


# ---------------------------------------------------------------------------------------------
# runtime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(settings: dict[str, str], home: str) -> dict[str, str]:
    """Only these settings: nothing GATEHOUSE_* leaks in from the caller's environment."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, **settings}


def config_check(binary: str, settings: dict[str, str], what: str, scratch: Path) -> dict[str, str] | None:
    empty = Path(tempfile.mkdtemp(dir=scratch))  # no .env or gatehouse.toml to read
    result = subprocess.run(
        [binary, "config", "check"],
        env=clean_env(settings, str(empty)),
        cwd=empty,
        check=False,
        capture_output=True,
        text=True,
    )
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    if result.returncode != 0:
        fail(f"`gatehouse config check` with {what}: exit {result.returncode}: {result.stderr.strip()}")
        return None
    if warnings:
        fail(f"`gatehouse config check` with {what}: {'; '.join(warnings)}")
        return None
    ok(f"`gatehouse config check` accepts {what}, without warnings")
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def check_libraries(binary: str) -> None:
    if not shutil.which("readelf"):
        skip("readelf not found: the binary's shared libraries are unchecked")
        return
    dynamic = subprocess.run(["readelf", "-d", binary], check=False, capture_output=True, text=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic)
    # gcr.io/distroless/cc-debian12: glibc, libgcc, libstdc++, libgomp, OpenSSL 3.
    allowed = re.compile(
        r"(libc|libm|libdl|librt|libpthread|libutil|libresolv)\.so\.\d+|ld-linux[-\w.]*\.so\.\d+"
        r"|libgcc_s\.so\.1|libstdc\+\+\.so\.6|libgomp\.so\.1|lib(ssl|crypto)\.so\.3"
    )
    missing = [lib for lib in needed if not allowed.fullmatch(lib)]
    check(not missing, f"the binary needs only libraries distroless/cc has ({', '.join(needed)})", ", ".join(missing))
    versions = subprocess.run(["readelf", "-V", binary], check=False, capture_output=True, text=True).stdout
    glibc = max(
        (tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_(\d+\.\d+(?:\.\d+)?)", versions)), default=()
    )
    newest = ".".join(map(str, glibc))
    check(glibc <= (2, 36), f"it needs glibc {newest} at most; Debian 12 has 2.36", newest)


def wait_until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def get(port: int, path: str) -> int | None:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None


def run_healthcheck(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, check=False, capture_output=True, text=True, timeout=30)


def nginx_config(nginx_conf: str, scratch: Path, upstream_port: int, http_port: int, https_port: int) -> Path:
    """deploy/nginx.conf with test certificates, logs and ports, inside a minimal nginx.conf."""
    work = scratch / "nginx"
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=auth.example.com",
            "-keyout",
            str(work / "key.pem"),
            "-out",
            str(work / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    text = Path(nginx_conf).read_text()
    text = re.sub(r"(?m)^(\s*ssl_certificate\s+)\S+;", rf"\g<1>{work}/cert.pem;", text)
    text = re.sub(r"(?m)^(\s*ssl_certificate_key\s+)\S+;", rf"\g<1>{work}/key.pem;", text)
    text = re.sub(r"(?m)^(\s*access_log\s+)\S+", rf"\g<1>{work}/access.log", text)
    text = re.sub(r"(?m)^\s*listen\s+\[::\].*$", "", text)  # the test may have no IPv6
    text = re.sub(r"(?m)^(\s*listen\s+)80\b", rf"\g<1>127.0.0.1:{http_port}", text)
    text = re.sub(r"(?m)^(\s*listen\s+)443\b", rf"\g<1>127.0.0.1:{https_port}", text)
    text = re.sub(r"(?m)^(\s*server\s+)127\.0\.0\.1:8080\b", rf"\g<1>127.0.0.1:{upstream_port}", text)
    (work / "gatehouse.conf").write_text(text)
    temp = "\n".join(f"    {kind}_temp_path {work}/tmp/{kind};" for kind in ("proxy", "fastcgi", "uwsgi", "scgi"))
    (work / "nginx.conf").write_text(
        f"pid {work}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n"
        f"    access_log {work}/access.log;\n    client_body_temp_path {work}/tmp/body;\n{temp}\n"
        f"    include {work}/gatehouse.conf;\n}}\n"
    )
    return work


def check_nginx(nginx: str, nginx_conf: str, scratch: Path, upstream_port: int | None) -> None:
    print("\n-- deploy/nginx.conf", flush=True)
    http_port, https_port = free_port(), free_port()
    work = nginx_config(nginx_conf, scratch, upstream_port or 8080, http_port, https_port)
    conf = str(work / "nginx.conf")
    test = subprocess.run(
        [nginx, "-t", "-p", str(work), "-c", conf, "-e", "stderr"], check=False, capture_output=True, text=True
    )
    messages = test.stderr.strip().replace("\n", " | ")
    if not check(
        test.returncode == 0, "`nginx -t` accepts it (inside http {}, with a throwaway certificate)", messages
    ):
        return
    if "[warn]" in test.stderr:
        print(f"  note: nginx warns: {messages}")
    if upstream_port is None:
        skip("nginx in front of a live gatehouse: no live gatehouse")
        return
    server = subprocess.Popen(
        [nginx, "-p", str(work), "-c", conf, "-e", "stderr", "-g", "daemon off; master_process off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if not check(wait_until(lambda: get(http_port, "/") is not None, 10), "nginx starts with it"):
            return
        plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
        plain.request("GET", "/healthz?x=1", headers={"Host": "auth.example.com"})
        response = plain.getresponse()
        check(
            response.status == 301 and response.getheader("Location") == "https://auth.example.com/healthz?x=1",
            "plain HTTP is redirected to HTTPS",
            f"{response.status} {response.getheader('Location')}",
        )
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE

        def https(method: str, path: str, body: bytes | None = None, headers: dict | None = None, tls12=False):
            if tls12:
                context.maximum_version = ssl.TLSVersion.TLSv1_2
            connection = http.client.HTTPSConnection("127.0.0.1", https_port, timeout=10, context=context)
            connection.request(method, path, body=body, headers={"Host": "auth.example.com", **(headers or {})})
            answer = connection.getresponse()
            answer.read()
            return answer, connection.sock.version() if connection.sock else None

        response, version = https("GET", "/healthz", headers={"X-Request-Id": "check-sh-1"})
        check(response.status == 200, f"GET /healthz through nginx answers 200 over {version}", str(response.status))
        check(
            (response.getheader("Strict-Transport-Security") or "").startswith("max-age="),
            "HTTPS answers carry Strict-Transport-Security",
        )
        check(
            response.getheader("X-Request-Id") == "check-sh-1",
            "a client's X-Request-Id reaches gatehouse and comes back",
            str(response.getheader("X-Request-Id")),
        )
        response, _ = https("GET", "/healthz")
        check(bool(response.getheader("X-Request-Id")), "without one, nginx's $request_id is passed and echoed")
        response, _ = https(
            "POST", "/user", body=b"{" + b" " * 70_000 + b"}", headers={"Content-Type": "application/json"}
        )
        check(response.status == 413, "a 70 kB body is refused by nginx with 413 (client_max_body_size 64k)")
        response, version = https("GET", "/healthz", tls12=True)
        check(version == "TLSv1.2" and response.status == 200, f"TLS 1.2 is accepted ({version})")
    finally:
        server.send_signal(signal.SIGQUIT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def check_live_server(binary: str, facts: dict, scratch: Path, args: argparse.Namespace) -> bool:
    """Runs the binary with the image's settings (another port, a scratch database); checks the
    HEALTHCHECK command both ways, nginx in front of it, and the stop on SIGTERM. Returns whether
    the server came up."""
    print("\n-- a live server with the image's settings: HEALTHCHECK and stopping", flush=True)
    port = free_port()
    data = scratch / "data"
    data.mkdir()
    env = dict(facts.get("docker_env", {}))
    env["GATEHOUSE_BIND"] = env.get("GATEHOUSE_BIND", "0.0.0.0:8080").rpartition(":")[0] + f":{port}"
    env["GATEHOUSE_DATABASE_URL"] = f"sqlite://{data}/gatehouse.db"
    env = clean_env(env, str(data))
    print(f"  (GATEHOUSE_BIND={env['GATEHOUSE_BIND']}, database in {data})")
    healthcheck = [binary, *facts.get("healthcheck", ["", "healthcheck"])[1:]]
    shown = f"gatehouse {' '.join(healthcheck[1:])}"
    serve = [binary, *facts.get("unit_exec_start", ["", "serve"])[1:]]
    log_path = scratch / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(serve, env=env, cwd=data, stdout=log, stderr=subprocess.STDOUT)
        try:
            up = wait_until(lambda: get(port, "/healthz") == 200 or server.poll() is not None, 60)
            up = up and server.poll() is None
            if not check(up, "gatehouse serves /healthz with the Dockerfile's settings", log_path.read_text()[-2000:]):
                return False
            result = run_healthcheck(healthcheck, env)
            exists = not (result.returncode == 2 and "unrecognized subcommand" in result.stderr)
            if not exists:
                fail(f"`{shown}` is not a gatehouse command: the HEALTHCHECK would always fail")
            else:
                check(
                    result.returncode == 0,
                    f"HEALTHCHECK `{shown}` exits 0 while it serves",
                    f"exit {result.returncode}: {result.stderr.strip()}",
                )
            if args.nginx:
                check_nginx(args.nginx, args.nginx_conf, scratch, port)
                print("\n-- the live server, continued: stopping", flush=True)
            started = time.monotonic()
            server.send_signal(signal.SIGTERM)
            try:
                code = server.wait(timeout=40)
                took = time.monotonic() - started
                check(
                    code == 0 and took < 35,
                    f"on SIGTERM it stops cleanly in {took:.1f}s (exit {code}; the grace is 35 s)",
                )
            except subprocess.TimeoutExpired:
                fail("it did not stop within 40 s of SIGTERM")
                return True
            if exists:
                result = run_healthcheck(healthcheck, env)
                check(result.returncode != 0, f"`{shown}` fails once it has stopped (exit {result.returncode})")
            return True
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()


def runtime(args: argparse.Namespace) -> int:
    facts = json.loads(Path(args.facts).read_text())
    binary = args.binary
    scratch = Path(tempfile.mkdtemp(prefix="gatehouse-check-"))
    try:
        print("\n-- the binary", flush=True)
        check_libraries(binary)

        print("\n-- every shipped configuration, through `gatehouse config check`", flush=True)
        if "docker_env" in facts:
            config_check(binary, facts["docker_env"], "the Dockerfile's ENV", scratch)
        if "compose_env" in facts:
            config_check(binary, facts["compose_env"], "docker-compose.yml's gatehouse environment", scratch)
        known = None
        if "unit_env" in facts:
            known = config_check(binary, facts["unit_env"], "deploy/gatehouse.env", scratch)
        if known is not None:
            examples = facts.get("unit_env_examples", {})
            for name, value in examples.items():
                if name not in known:
                    fail(f"deploy/gatehouse.env mentions {name}, which gatehouse does not know")
                    continue
                example = {name: value}
                if name.startswith("GATEHOUSE_ADMIN_"):  # these two go together
                    if name != "GATEHOUSE_ADMIN_EMAIL":
                        continue
                    password = examples.get("GATEHOUSE_ADMIN_PASSWORD") or secrets.token_urlsafe(24)
                    example["GATEHOUSE_ADMIN_PASSWORD"] = password
                elif not value:
                    continue
                shown = " ".join(f"{k}={v}" for k, v in example.items() if k != "GATEHOUSE_ADMIN_PASSWORD")
                config_check(binary, {**facts["unit_env"], **example}, f"gatehouse.env's example {shown}", scratch)

        live = check_live_server(binary, facts, scratch, args)
        if args.nginx and not live:
            check_nginx(args.nginx, args.nginx_conf, scratch, None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if FAILED else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("static")
    s.add_argument("--context-dir", required=True)
    s.add_argument("--facts", required=True)
    r = commands.add_parser("runtime")
    r.add_argument("--binary", required=True)
    r.add_argument("--facts", required=True)
    r.add_argument("--nginx")
    r.add_argument("--nginx-conf", default=str(ROOT / "deploy/nginx.conf"))
    args = parser.parse_args()
    return static(args) if args.command == "static" else runtime(args)


if __name__ == "__main__":
    sys.exit(main())
