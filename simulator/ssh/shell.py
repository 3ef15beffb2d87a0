"""A small POSIX-like shell over a simulated guest's files: what integration tests run over
SSH (``echo … > f``, ``cat``, ``rm -rf``, ``ls``, ``sync``, ``sleep``) and what a person at
a prompt reaches for (``cd``, ``pwd``, ``mkdir -p``, ``md5sum``, ``uptime``, ``free``, …).

It understands quoting, ``$VAR`` and ``~``, ``*``/``?`` globs, redirections (``>``, ``>>``,
``<``, ``2>``, ``2>>``, ``2>&1``), pipes and ``;`` / ``&&`` / ``||``. Messages follow
Debian's dash and coreutils, so tests that look for "No such file or directory" find it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.ssh.files import GuestError, GuestFiles

MAX_SLEEP = 60.0  # seconds; a guest's ``sleep`` should not hold a server thread for long
OPERATORS = ("2>&1", "2>>", "&&", "||", ">>", "2>", ";", "|", "&", ">", "<")
REDIRECTS = (">", ">>", "<", "2>", "2>>")
NOT_FOUND = "No such file or directory"


class ShellError(Exception):
    """A syntax error: the whole line is refused, as ``sh`` does."""


class ExitShell(Exception):  # noqa: N818 - a control-flow signal, not an error
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class Result:
    out: bytes = b""
    err: bytes = b""
    status: int = 0


@dataclass
class Machine:
    """What ``uptime``, ``free``, ``nproc``, ``hostname``, ``/proc/cpuinfo`` and
    ``/proc/meminfo`` report about the guest: its service offering's CPUs and memory."""

    hostname: str
    memory_mib: int
    booted: float = field(default_factory=time.time)
    cpus: int = 1
    cpu_mhz: int = 1000

    def proc(self, path: str) -> bytes | None:
        """The kernel's view of the machine, for the ``/proc`` files tests read."""
        if path == "/proc/cpuinfo":
            return "".join(
                f"processor\t: {n}\nvendor_id\t: GenuineIntel\nmodel name\t: QEMU Virtual "
                f"CPU version 2.5+\ncpu MHz\t\t: {self.cpu_mhz:.3f}\ncpu cores\t: 1\n\n"
                for n in range(self.cpus)).encode()
        if path == "/proc/meminfo":
            total = self.memory_mib << 10  # kB
            free = max(0, total - (48 << 10))
            return (f"MemTotal:       {total:>8} kB\nMemFree:        {free:>8} kB\n"
                    f"MemAvailable:   {free:>8} kB\n").encode()
        return None


@dataclass
class Word:
    text: str
    glob: bool = False  # had an unquoted * or ?


@dataclass
class Command:
    argv: list[Word] = field(default_factory=list)
    redirects: list[tuple[str, str]] = field(default_factory=list)


def tokenize(line: str, env: dict[str, str]) -> list[Word | str]:
    """Words (with quotes removed and variables expanded) and operator strings."""
    tokens: list[Word | str] = []
    word: list[str] | None = None
    glob = quoted = False
    i, n = 0, len(line)

    def flush() -> None:
        nonlocal word, glob, quoted
        if word is not None and (word or quoted):
            tokens.append(Word("".join(word), glob))
        word, glob, quoted = None, False, False

    def expand(at: int) -> tuple[str, int]:
        """The value of the variable reference at ``line[at] == '$'``, and where it ends."""
        if at + 1 < n and line[at + 1] == "{":
            end = line.find("}", at + 2)
            if end < 0:
                raise ShellError("Bad substitution")
            return env.get(line[at + 2:end], ""), end + 1
        if at + 1 < n and line[at + 1] in "?$#":
            return env.get(line[at + 1], ""), at + 2
        j = at + 1
        while j < n and (line[j].isalnum() or line[j] == "_"):
            j += 1
        if j == at + 1:
            return "$", at + 1
        return env.get(line[at + 1:j], ""), j

    while i < n:
        ch = line[i]
        if ch in ";|&<>" or (word is None and line.startswith("2>", i)):
            flush()
            op = next(o for o in OPERATORS if line.startswith(o, i))
            tokens.append(op)
            i += len(op)
        elif ch.isspace():
            flush()
            i += 1
        elif ch == "#" and word is None:
            break
        else:
            if word is None:
                word = []
                if ch == "~" and (i + 1 == n or line[i + 1] in "/ \t"):
                    word.append(env.get("HOME", "/"))
                    i += 1
                    continue
            if ch == "'":
                end = line.find("'", i + 1)
                if end < 0:
                    raise ShellError("Syntax error: Unterminated quoted string")
                word.append(line[i + 1:end])
                quoted = True
                i = end + 1
            elif ch == '"':
                quoted = True
                i += 1
                while True:
                    if i >= n:
                        raise ShellError("Syntax error: Unterminated quoted string")
                    c = line[i]
                    if c == '"':
                        i += 1
                        break
                    if c == "\\" and i + 1 < n and line[i + 1] in '"\\$`':
                        word.append(line[i + 1])
                        i += 2
                    elif c == "$":
                        value, i = expand(i)
                        word.append(value)
                    else:
                        word.append(c)
                        i += 1
            elif ch == "\\":
                if i + 1 < n:
                    word.append(line[i + 1])
                i += 2
            elif ch == "$":
                value, i = expand(i)
                word.append(value)
            else:
                glob = glob or ch in "*?"
                word.append(ch)
                i += 1
    flush()
    return tokens


def parse(tokens: list[Word | str]) -> list[tuple[str, list[Command]]]:
    """``[(connector, pipeline)]``: the connector (``;``, ``&&``, ``||``) before each
    pipeline, a pipeline being commands joined by ``|``."""
    out: list[tuple[str, list[Command]]] = []
    connector = ";"
    pipeline: list[Command] = [Command()]
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if isinstance(tok, Word):
            pipeline[-1].argv.append(tok)
        elif tok in REDIRECTS:
            target = tokens[i + 1] if i + 1 < len(tokens) else None
            if not isinstance(target, Word):
                raise ShellError(f"Syntax error: {target or 'newline'} unexpected")
            pipeline[-1].redirects.append((tok, target.text))
            i += 1
        elif tok == "2>&1":
            pipeline[-1].redirects.append((tok, ""))
        elif tok == "|":
            if not pipeline[-1].argv:
                raise ShellError('Syntax error: "|" unexpected')
            pipeline.append(Command())
        else:  # ; & && ||
            if not pipeline[-1].argv and not pipeline[-1].redirects:
                if len(pipeline) > 1 or tok in ("&&", "||") or out or connector != ";":
                    raise ShellError(f'Syntax error: "{tok}" unexpected')
            else:
                out.append((connector, pipeline))
            connector = tok if tok in ("&&", "||") else ";"
            pipeline = [Command()]
        i += 1
    if pipeline[-1].argv or pipeline[-1].redirects:
        out.append((connector, pipeline))
    elif len(pipeline) > 1 or connector != ";":
        raise ShellError("Syntax error: end of file unexpected")
    return out


def sequence(line: str) -> list[tuple[str, str]]:
    """``line`` cut at its top-level ``;``, ``&``, ``&&`` and ``||`` (not inside quotes,
    after a backslash or in a comment): ``[(connector, text)]`` with the connector before
    each part, as :func:`parse` gives them. Each part is expanded only when it runs, so
    ``false; echo $?`` and ``A=1; echo $A`` see what ran before them."""
    out: list[tuple[str, str]] = []
    connector, start, i, n = ";", 0, 0, len(line)
    at_word_start = True
    while i < n:
        ch = line[i]
        if ch == "'":
            end = line.find("'", i + 1)
            i = n if end < 0 else end + 1
            at_word_start = False
            continue
        if ch == '"':
            i += 1
            while i < n and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
            i += 1
            at_word_start = False
            continue
        if ch == "\\":
            i += 2
            at_word_start = False
            continue
        if ch == "#" and at_word_start:
            break
        if line.startswith("2>&1", i):
            i += 4
            at_word_start = True
            continue
        op = next((o for o in ("&&", "||", ";", "&") if line.startswith(o, i)), None)
        if op is not None:
            out.append((connector, line[start:i]))
            connector = op if op in ("&&", "||") else ";"
            i += len(op)
            start = i
            at_word_start = True
            continue
        at_word_start = ch.isspace() or ch in "|<>"
        i += 1
    out.append((connector, line[start:]))
    return [(c, text) for c, text in out if text.strip() and not text.strip().startswith("#")]


class Shell:
    """One login session: its working directory, environment and last status."""

    def __init__(self, files: GuestFiles, user: str, machine: Machine,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.files = files
        self.user = user
        self.machine = machine
        self.sleep = sleep
        home = "/root" if user == "root" else f"/home/{user}"
        self.cwd = home
        self.env = {"HOME": home, "USER": user, "LOGNAME": user, "SHELL": "/bin/sh",
                    "PATH": "/usr/local/bin:/usr/bin:/bin", "PWD": home, "?": "0",
                    "HOSTNAME": machine.hostname}
        self.commands: dict[str, Callable[[list[str], bytes], Result]] = {
            name[4:].replace("_", ""): getattr(self, name)
            for name in dir(self) if name.startswith("cmd_")}
        self.commands["["] = self.cmd_test
        self.exit_status: int | None = None  # set once the session said ``exit``

    @property
    def prompt(self) -> str:
        sign = "#" if self.user == "root" else "$"
        return f"{self.user}@{self.machine.hostname}:{self.cwd}{sign} "

    # --- running a line ---------------------------------------------------------------------

    # Commands that read their standard input when given no file (or ``-``).
    READERS = frozenset({"cat", "md5sum", "sha1sum", "sha256sum", "wc", "head", "tail"})

    def reads_input(self, line: str) -> bool:
        """Whether ``line`` reads the session's standard input (``cat > f``, ``md5sum``, a
        pipeline that starts with one): an SSH command then gets what the client sends."""
        try:
            program = parse(tokenize(line, dict(self.env)))
        except ShellError:
            return False
        if not program or not program[0][1]:
            return False
        first = program[0][1][0]
        words = [w.text for w in first.argv]
        if not words or words[0] not in self.READERS or any(op == "<" for op, _ in
                                                            first.redirects):
            return False
        operands = [w for w in words[1:] if w == "-" or not w.startswith("-")]
        if words[0] in ("head", "tail") and len(words) > 2 and words[1] == "-n":
            operands = [w for w in words[3:] if w == "-" or not w.startswith("-")]
        return not operands or "-" in operands

    def run(self, line: str, stdin: bytes = b"") -> Result:
        """Run one command line (``exit`` sets :attr:`exit_status`); ``stdin`` is what the
        session sent (its first command reads it)."""
        total = Result()
        try:
            parse(tokenize(line, self.env))  # a syntax error refuses the whole line, as sh
            parts = sequence(line)
        except ShellError as exc:
            return self._status(Result(err=f"sh: 1: {exc}\n".encode(), status=2))
        status = int(self.env["?"])
        for connector, text in parts:
            if (connector == "&&" and status != 0) or (connector == "||" and status == 0):
                continue
            try:
                program = parse(tokenize(text, self.env))  # expanded now
                if not program:
                    continue
                result = self._pipeline(program[0][1], stdin)
                stdin = b""  # read once, by the first command that runs
            except ExitShell as exc:
                self.exit_status = status = exc.status
                break
            except ShellError as exc:  # what a variable expanded to cannot be parsed
                result = Result(err=f"sh: 1: {exc}\n".encode(), status=2)
            total.out += result.out
            total.err += result.err
            status = result.status
            self.env["?"] = str(status)
        total.status = status
        return self._status(total)

    def _status(self, result: Result) -> Result:
        self.env["?"] = str(result.status)
        return result

    def _pipeline(self, pipeline: list[Command], stdin: bytes = b"") -> Result:
        err = b""
        result = Result()
        for command in pipeline:
            result = self._command(command, stdin)
            stdin = result.out
            err += result.err
        return Result(result.out, err, result.status)

    def _command(self, command: Command, stdin: bytes) -> Result:
        words = [w.text for w in command.argv]
        while words and "=" in words[0] and words[0].split("=")[0].isidentifier():
            name, _, value = words.pop(0).partition("=")
            self.env[name] = value
        argv = self._globbed(command.argv[len(command.argv) - len(words):])
        try:
            for op, target in command.redirects:
                if op == "<":
                    data = self._read_input(target)
                    if data is None:
                        return Result(err=f"sh: 1: cannot open {target}: No such file\n".encode(),
                                      status=2)
                    stdin = data
            if not argv:
                result = Result()
            else:
                handler = self.commands.get(argv[0])
                if handler is None:
                    result = Result(err=f"sh: 1: {argv[0]}: not found\n".encode(), status=127)
                else:
                    result = handler(argv[1:], stdin)
            for op, target in command.redirects:
                if op == "2>&1":
                    result = Result(result.out + result.err, b"", result.status)
                elif op in (">", ">>", "2>", "2>>"):
                    stream = result.err if op.startswith("2") else result.out
                    problem = self._write_output(target, stream, append=op.endswith(">>"))
                    if problem:
                        return Result(err=problem.encode(), status=2)
                    result = (Result(result.out, b"", result.status) if op.startswith("2")
                              else Result(b"", result.err, result.status))
        except GuestError as exc:
            return Result(err=f"sh: 1: {exc}\n".encode(), status=1)
        return result

    def _globbed(self, words: list[Word]) -> list[str]:
        out: list[str] = []
        for word in words:
            if not word.glob:
                out.append(word.text)
                continue
            directory, pattern = posixpath.split(word.text)
            base = self.path(directory or ".")
            found = sorted(name for name in self.files.children(base)
                           if fnmatch.fnmatchcase(name, pattern) and not name.startswith("."))
            if not found:
                out.append(word.text)  # no match: the word stays as it is, as in sh
            else:
                out.extend(posixpath.join(directory, name) if directory else name
                           for name in found)
        return out

    def path(self, name: str) -> str:
        """``name`` as an absolute, normalised path (relative to the working directory)."""
        full = posixpath.normpath(posixpath.join(self.cwd, name))
        return "/" + full.lstrip("/")

    def _read_input(self, name: str) -> bytes | None:
        if name == "/dev/null":
            return b""
        return self.machine.proc(self.path(name)) or self.files.read(self.path(name))

    def _write_output(self, name: str, data: bytes, *, append: bool) -> str | None:
        """Write a redirection's target; an error message if it cannot be created."""
        if name == "/dev/null":
            return None
        target = self.path(name)
        if self.files.is_dir(target):
            return f"sh: 1: cannot create {name}: Is a directory\n"
        if not self.files.is_dir(posixpath.dirname(target)):
            return f"sh: 1: cannot create {name}: Directory nonexistent\n"
        if append:
            data = (self.files.read(target) or b"") + data
        self.files.write(target, data)
        return None

    # --- helpers for commands ---------------------------------------------------------------

    @staticmethod
    def _flags(args: list[str], known: str) -> tuple[set[str], list[str], str | None]:
        """Short flags (``-rf``), the operands, and the first unknown flag if any."""
        flags: set[str] = set()
        operands: list[str] = []
        only_operands = False
        for arg in args:
            if only_operands or not arg.startswith("-") or arg == "-":
                operands.append(arg)
            elif arg == "--":
                only_operands = True
            else:
                for ch in arg[1:]:
                    if ch not in known:
                        return flags, operands, ch
                    flags.add(ch)
        return flags, operands, None

    @staticmethod
    def _bad_flag(cmd: str, flag: str) -> Result:
        return Result(err=f"{cmd}: invalid option -- '{flag}'\n".encode(), status=1)

    def _inputs(self, cmd: str, operands: list[str], stdin: bytes
                ) -> tuple[list[tuple[str, bytes]], bytes, int]:
        """The contents of each operand (stdin for none or ``-``), errors and status."""
        found: list[tuple[str, bytes]] = []
        err, status = b"", 0
        for name in operands or ["-"]:
            if name == "-":
                found.append(("-", stdin))
                continue
            target = self.path(name)
            data = self.machine.proc(target)
            if data is None:
                data = self.files.read(target)
            if data is None:
                problem = "Is a directory" if self.files.is_dir(target) else NOT_FOUND
                err += f"{cmd}: {name}: {problem}\n".encode()
                status = 1
            else:
                found.append((name, data))
        return found, err, status

    # --- commands (cmd_NAME is the command NAME) --------------------------------------------

    def cmd_echo(self, args: list[str], stdin: bytes) -> Result:
        newline = True
        escapes = False
        while args and args[0] in ("-n", "-e", "-ne", "-en"):
            newline = newline and "n" not in args[0]
            escapes = escapes or "e" in args[0]
            args = args[1:]
        text = " ".join(args)
        if escapes:
            text = text.replace("\\n", "\n").replace("\\t", "\t")
        return Result(out=(text + ("\n" if newline else "")).encode())

    def cmd_printf(self, args: list[str], stdin: bytes) -> Result:
        if not args:
            return Result(err=b"printf: usage: printf format [arguments]\n", status=2)
        fmt = args[0].replace("\\n", "\n").replace("\\t", "\t")
        values = iter(args[1:])
        out, i = [], 0
        while i < len(fmt):
            if fmt[i] == "%" and i + 1 < len(fmt):
                spec = fmt[i + 1]
                out.append("%" if spec == "%" else next(values, ""))
                i += 2
            else:
                out.append(fmt[i])
                i += 1
        return Result(out="".join(out).encode())

    def cmd_cat(self, args: list[str], stdin: bytes) -> Result:
        found, err, status = self._inputs("cat", args, stdin)
        return Result(b"".join(data for _, data in found), err, status)

    def cmd_rm(self, args: list[str], stdin: bytes) -> Result:
        flags, operands, bad = self._flags(args, "rRfiv")
        if bad:
            return self._bad_flag("rm", bad)
        if not operands and "f" not in flags:
            return Result(err=b"rm: missing operand\n", status=1)
        err, status = b"", 0
        for name in operands:
            target = self.path(name)
            if self.files.is_dir(target):
                if not flags & {"r", "R"}:
                    err += f"rm: cannot remove '{name}': Is a directory\n".encode()
                    status = 1
                else:
                    self.files.remove_tree(target)
            elif self.files.is_file(target):
                self.files.delete(target)
            elif "f" not in flags:
                err += f"rm: cannot remove '{name}': {NOT_FOUND}\n".encode()
                status = 1
        return Result(err=err, status=status)

    def _long(self, name: str, target: str, is_dir: bool) -> str:
        size = 4096 if is_dir else len(self.files.read(target) or b"")
        mode = "drwxr-xr-x 2" if is_dir else "-rw-r--r-- 1"
        stamp = time.strftime("%b %e %H:%M", time.gmtime())
        return f"{mode} {self.user} {self.user} {size:>6} {stamp} {name}"

    def cmd_ls(self, args: list[str], stdin: bytes) -> Result:
        flags, operands, bad = self._flags(args, "laA1htrdF")
        if bad:
            return self._bad_flag("ls", bad)
        err, status = b"", 0
        files: list[str] = []
        dirs: list[tuple[str, str]] = []
        for name in operands or ["."]:
            target = self.path(name)
            if self.files.is_dir(target) and "d" not in flags:
                dirs.append((name, target))
            elif self.files.is_dir(target) or self.files.is_file(target):
                files.append(self._long(name, target, self.files.is_dir(target))
                             if "l" in flags else name)
            else:
                err += f"ls: cannot access '{name}': {NOT_FOUND}\n".encode()
                status = 2
        blocks = ["\n".join(files)] if files else []
        for name, target in dirs:
            entries = self.files.children(target)
            names = sorted(n for n in entries if "a" in flags or "A" in flags
                           or not n.startswith("."))
            if "a" in flags:
                names = [".", ".."] + names
            lines = [self._long(n, posixpath.join(target, n), entries.get(n, True))
                     if "l" in flags else n for n in names]
            if "l" in flags:
                lines.insert(0, f"total {len(names) * 4}")
            header = f"{name}:\n" if len(dirs) + len(files) > 1 else ""
            blocks.append(header + "\n".join(lines))
        text = "\n\n".join(b for b in blocks if b)
        return Result(out=(text + "\n").encode() if text else b"", err=err, status=status)

    def cmd_mkdir(self, args: list[str], stdin: bytes) -> Result:
        flags, operands, bad = self._flags(args, "pv")
        if bad:
            return self._bad_flag("mkdir", bad)
        if not operands:
            return Result(err=b"mkdir: missing operand\n", status=1)
        err, status = b"", 0
        for name in operands:
            target = self.path(name)
            exists = self.files.is_dir(target) or self.files.is_file(target)
            if "p" in flags:
                if self.files.is_file(target):
                    err += f"mkdir: cannot create directory '{name}': Not a directory\n".encode()
                    status = 1
                elif not exists:
                    self.files.make_dir(target)
            elif exists:
                err += f"mkdir: cannot create directory '{name}': File exists\n".encode()
                status = 1
            elif not self.files.is_dir(posixpath.dirname(target)):
                err += f"mkdir: cannot create directory '{name}': {NOT_FOUND}\n".encode()
                status = 1
            else:
                self.files.make_dir(target)
        return Result(err=err, status=status)

    def cmd_rmdir(self, args: list[str], stdin: bytes) -> Result:
        err, status = b"", 0
        for name in args:
            target = self.path(name)
            if not self.files.is_dir(target):
                err += f"rmdir: failed to remove '{name}': {NOT_FOUND}\n".encode()
                status = 1
            elif self.files.children(target):
                err += f"rmdir: failed to remove '{name}': Directory not empty\n".encode()
                status = 1
            else:
                self.files.remove_tree(target)
        return Result(err=err, status=status)

    def cmd_touch(self, args: list[str], stdin: bytes) -> Result:
        err, status = b"", 0
        for name in args:
            target = self.path(name)
            if self.files.is_dir(target) or self.files.is_file(target):
                continue
            if not self.files.is_dir(posixpath.dirname(target)):
                err += f"touch: cannot touch '{name}': {NOT_FOUND}\n".encode()
                status = 1
            else:
                self.files.write(target, b"")
        return Result(err=err, status=status)

    def _copy(self, cmd: str, args: list[str], *, move: bool) -> Result:
        if len(args) != 2:
            return Result(err=f"{cmd}: needs a source and a destination\n".encode(), status=1)
        source, dest = self.path(args[0]), self.path(args[1])
        data = self.files.read(source)
        if data is None:
            return Result(err=f"{cmd}: cannot stat '{args[0]}': {NOT_FOUND}\n".encode(),
                          status=1)
        if self.files.is_dir(dest):
            dest = posixpath.join(dest, posixpath.basename(source))
        problem = self._write_output(dest, data, append=False)
        if problem:
            return Result(err=problem.replace("sh: 1: ", f"{cmd}: ").encode(), status=1)
        if move:
            self.files.delete(source)
        return Result()

    def cmd_cp(self, args: list[str], stdin: bytes) -> Result:
        return self._copy("cp", args, move=False)

    def cmd_mv(self, args: list[str], stdin: bytes) -> Result:
        return self._copy("mv", args, move=True)

    def cmd_sync(self, args: list[str], stdin: bytes) -> Result:
        """Every write is already durable on the host when the shell returns."""
        return Result()

    def cmd_sleep(self, args: list[str], stdin: bytes) -> Result:
        try:
            seconds = sum(float(a.rstrip("s")) for a in args)
            if not math.isfinite(seconds) or seconds < 0:
                raise ValueError(seconds)
        except ValueError:
            return Result(err=f"sleep: invalid time interval '{' '.join(args)}'\n".encode(),
                          status=1)
        self.sleep(min(max(seconds, 0.0), MAX_SLEEP))
        return Result()

    def _digest(self, cmd: str, algorithm: str, args: list[str], stdin: bytes) -> Result:
        found, err, status = self._inputs(cmd, args, stdin)
        out = "".join(f"{hashlib.new(algorithm, data).hexdigest()}  {name}\n"
                      for name, data in found)
        return Result(out.encode(), err, status)

    def cmd_md5sum(self, args: list[str], stdin: bytes) -> Result:
        return self._digest("md5sum", "md5", args, stdin)

    def cmd_sha1sum(self, args: list[str], stdin: bytes) -> Result:
        return self._digest("sha1sum", "sha1", args, stdin)

    def cmd_sha256sum(self, args: list[str], stdin: bytes) -> Result:
        return self._digest("sha256sum", "sha256", args, stdin)

    def cmd_wc(self, args: list[str], stdin: bytes) -> Result:
        flags, operands, bad = self._flags(args, "clw")
        if bad:
            return self._bad_flag("wc", bad)
        found, err, status = self._inputs("wc", operands, stdin)
        lines = []
        for name, data in found:
            counts = {"l": data.count(b"\n"), "w": len(data.split()), "c": len(data)}
            shown = [str(counts[k]) for k in "lwc" if not flags or k in flags]
            lines.append(" ".join(shown) + ("" if name == "-" else f" {name}"))
        return Result(("\n".join(lines) + "\n").encode() if lines else b"", err, status)

    def _lines(self, cmd: str, args: list[str], stdin: bytes, *, tail: bool) -> Result:
        count = 10
        if len(args) >= 2 and args[0] == "-n":
            try:
                count = int(args[1])
            except ValueError:
                return Result(err=f"{cmd}: invalid number of lines: '{args[1]}'\n".encode(),
                              status=1)
            args = args[2:]
        found, err, status = self._inputs(cmd, args, stdin)
        out = b""
        for _, data in found:
            lines = data.splitlines(keepends=True)
            out += b"".join(lines[-count:] if tail and count else lines[:count])
        return Result(out, err, status)

    def cmd_head(self, args: list[str], stdin: bytes) -> Result:
        return self._lines("head", args, stdin, tail=False)

    def cmd_tail(self, args: list[str], stdin: bytes) -> Result:
        return self._lines("tail", args, stdin, tail=True)

    def cmd_uptime(self, args: list[str], stdin: bytes) -> Result:
        minutes = int((time.time() - self.machine.booted) // 60)
        up = f"{minutes // 60}:{minutes % 60:02d}" if minutes >= 60 else f"{minutes} min"
        now = time.strftime("%H:%M:%S", time.gmtime())
        return Result(out=f" {now} up {up},  1 user,  load average: 0.00, 0.00, 0.00\n"
                      .encode())

    def cmd_free(self, args: list[str], stdin: bytes) -> Result:
        unit = {"-b": 1, "-k": 1024, "-m": 1 << 20, "-g": 1 << 30}.get(
            args[0] if args else "-k", 1024)
        total = self.machine.memory_mib << 20
        used = min(total, 48 << 20)  # a small Debian guest after boot
        cache = total // 10
        free = total - used - cache

        def v(x: int) -> str:
            return f"{x // unit:>11}"

        return Result(out=(
            f"{'':15}{'total':>11}{'used':>12}{'free':>12}{'shared':>12}{'buff/cache':>12}"
            f"{'available':>12}\n"
            f"Mem:{'':7}{v(total)} {v(used)} {v(free)} {v(0)} {v(cache)} {v(free + cache)}\n"
            f"Swap:{'':6}{v(0)} {v(0)} {v(0)}\n").encode())

    def cmd_nproc(self, args: list[str], stdin: bytes) -> Result:
        return Result(out=f"{self.machine.cpus}\n".encode())

    def cmd_hostname(self, args: list[str], stdin: bytes) -> Result:
        return Result(out=f"{self.machine.hostname}\n".encode())

    def cmd_whoami(self, args: list[str], stdin: bytes) -> Result:
        return Result(out=f"{self.user}\n".encode())

    def cmd_id(self, args: list[str], stdin: bytes) -> Result:
        uid = 0 if self.user == "root" else 1000
        return Result(out=f"uid={uid}({self.user}) gid={uid}({self.user}) "
                      f"groups={uid}({self.user})\n".encode())

    def cmd_uname(self, args: list[str], stdin: bytes) -> Result:
        if "-a" in args:
            return Result(out=f"Linux {self.machine.hostname} 6.1.0-26-amd64 #1 SMP "
                          "Debian 6.1.112-1 x86_64 GNU/Linux\n".encode())
        if "-r" in args:
            return Result(out=b"6.1.0-26-amd64\n")
        if "-n" in args:
            return self.cmd_hostname([], stdin)
        return Result(out=b"Linux\n")

    def cmd_date(self, args: list[str], stdin: bytes) -> Result:
        return Result(out=time.strftime("%a %b %e %H:%M:%S UTC %Y\n", time.gmtime()).encode())

    def cmd_pwd(self, args: list[str], stdin: bytes) -> Result:
        return Result(out=f"{self.cwd}\n".encode())

    def cmd_cd(self, args: list[str], stdin: bytes) -> Result:
        target = self.path(args[0]) if args else self.env["HOME"]
        if not self.files.is_dir(target):
            return Result(err=f"sh: 1: cd: can't cd to {args[0]}\n".encode(), status=2)
        self.cwd = self.env["PWD"] = target
        return Result()

    def cmd_export(self, args: list[str], stdin: bytes) -> Result:
        for arg in args:
            name, sep, value = arg.partition("=")
            if sep:
                self.env[name] = value
        return Result()

    def cmd_env(self, args: list[str], stdin: bytes) -> Result:
        return Result(out="".join(f"{k}={v}\n" for k, v in sorted(self.env.items())
                                  if k.isidentifier()).encode())

    def cmd_test(self, args: list[str], stdin: bytes) -> Result:
        """``test``/``[`` with -e, -f, -d and string (in)equality."""
        if args and args[-1] == "]":
            args = args[:-1]
        ok = False
        if len(args) == 2 and args[0] in ("-e", "-f", "-d"):
            target = self.path(args[1])
            is_dir, is_file = self.files.is_dir(target), self.files.is_file(target)
            ok = {"-e": is_dir or is_file, "-f": is_file, "-d": is_dir}[args[0]]
        elif len(args) == 3 and args[1] in ("=", "!="):
            ok = (args[0] == args[2]) == (args[1] == "=")
        elif len(args) == 1:
            ok = bool(args[0])
        return Result(status=0 if ok else 1)

    def cmd_true(self, args: list[str], stdin: bytes) -> Result:
        return Result()

    def cmd_false(self, args: list[str], stdin: bytes) -> Result:
        return Result(status=1)

    def cmd_exit(self, args: list[str], stdin: bytes) -> Result:
        try:
            status = int(args[0]) if args else int(self.env["?"])
        except ValueError:
            status = 2
        raise ExitShell(status)
