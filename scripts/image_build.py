"""Runs a Dockerfile's build stage against the checkout, without a Docker engine.

The stage that the runtime stage copies from (`COPY --from=NAME`) is replayed in a staging folder
that holds exactly what the stage's own `COPY` lines bring from the build context: its `ARG`
defaults become environment variables, its `RUN` lines run with bash in the staging folder (the
ones that install packages with apt-get are skipped: scripts/install-deps installs the same
packages here), and absolute paths the runtime stage copies from are mapped into the staging
folder. Then every file the image needs must be where the runtime stage copies it from.

The products the stage may have built on an earlier call are deleted first, so a step that no
longer builds one cannot pass on a stale copy.
"""
import glob
import os
import re
import shlex
import shutil
import subprocess


def instructions(text):
    """(keyword, argument) pairs, line continuations joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line:
            keyword, _, argument = line.partition(" ")
            result.append((keyword.upper(), argument.strip()))
    return result


def stages(text):
    """{stage name: [instructions]}, and the final stage's instructions."""
    named, current, final = {}, None, []
    for keyword, argument in instructions(text):
        if keyword == "FROM":
            current = []
            final = current
            words = argument.split()
            if len(words) >= 3 and words[-2].upper() == "AS":
                named[words[-1]] = current
        elif current is not None:
            current.append((keyword, argument))
    return named, final


def apt_packages(command):
    """The packages an `apt-get install` in a RUN line names."""
    found = []
    for part in re.split(r"&&|;", command):
        words = part.split()
        if len(words) >= 2 and words[0] in ("apt-get", "apt") and words[1] == "install":
            found += [word for word in words[2:] if not word.startswith("-")]
    return found


def installed(package):
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return "install ok installed" in result.stdout


def copies_from_stage(final):
    """(stage, source path) of every `COPY --from=` of the final stage."""
    found = []
    for keyword, argument in final:
        if keyword == "COPY" and argument.startswith("--from="):
            words = argument.split()
            found.append((words[0][len("--from="):], words[1]))
    return found


def problems(dockerfile, context, staging, needed, log):
    """Replays the build stage; returns what is wrong (empty when the image's files are built)."""
    named, final = stages(dockerfile)
    copies = copies_from_stage(final)
    if not copies:
        return ["the runtime stage copies nothing from a build stage"]
    stage_name = copies[0][0]
    if stage_name not in named:
        return [f"no stage named {stage_name}"]
    os.makedirs(staging, exist_ok=True)
    outputs = os.path.join(staging, "outputs")
    source = os.path.join(staging, "context")
    shutil.rmtree(outputs, ignore_errors=True)
    # Absolute paths the runtime stage reads, mapped into the staging folder.
    roots = {"/" + path.strip("/").split("/")[0] for _, path in copies if path.startswith("/")}
    mapping = {root: os.path.join(outputs, root.strip("/")) for root in roots}
    for product in needed:
        for stale in glob.glob(os.path.join(source, ".build", "**", product), recursive=True):
            if os.path.isfile(stale):
                os.remove(stale)
    environment = dict(os.environ)
    workdir = None
    for keyword, argument in named[stage_name]:
        if keyword == "WORKDIR":
            workdir = argument
        elif keyword == "ARG" and "=" in argument:
            name, _, value = argument.partition("=")
            environment[name] = shlex.split(value)[0] if value else ""
        elif keyword == "COPY" and not argument.startswith("--"):
            *sources, destination = shlex.split(argument)
            for item in sources:
                target = os.path.join(source, destination, os.path.basename(item)) if destination.endswith(
                    "/") else os.path.join(source, destination)
                target = os.path.normpath(target)
                if os.path.isdir(target):
                    shutil.rmtree(target)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                origin = os.path.join(context, item)
                if not os.path.exists(origin):
                    return [f"the build stage copies {item}, which the checkout does not have"]
                if os.path.isdir(origin):
                    shutil.copytree(origin, target, symlinks=True)
                else:
                    shutil.copy2(origin, target)
        elif keyword == "RUN":
            if re.match(r"^(apt-get|apt)\b", argument):
                # The stage's packages must be here too, or the replay proves nothing about them.
                missing = [name for name in apt_packages(argument) if not installed(name)]
                if missing:
                    return [f"the build stage installs {' '.join(missing)}, which this machine lacks "
                            "(scripts/install-deps must install them)"]
                continue
            command = argument
            for root, mapped in mapping.items():
                command = re.sub(r"(?<![\w./-])" + re.escape(root) + r"(?=/|\b|$)", mapped, command)
            with open(log, "a") as out:
                out.write(f"== RUN {command}\n")
                out.flush()
                status = subprocess.call(["bash", "-ec", command], cwd=source, env=environment, stdout=out,
                                         stderr=subprocess.STDOUT)
            if status != 0:
                return [f"the build stage's RUN failed (exit {status}; see {log}): {argument[:120]}"]
    if workdir is None:
        return ["the build stage sets no WORKDIR"]
    found = []
    for _, path in copies:
        root = "/" + path.strip("/").split("/")[0]
        local = mapping[root] + path[len(root):] if path.startswith("/") else os.path.join(source, path)
        for product in needed:
            candidate = local if not os.path.isdir(local) else os.path.join(local, product)
            if not os.path.isfile(candidate) or not os.access(candidate, os.X_OK):
                found.append(f"the image has no {product}: the build stage did not put it in {path}")
    return found
