#!/usr/bin/env python3
"""The include graph of server/ and client/: no cycles, and dependencies in the declared direction.

A module is a .c file and the .h of the same name in the same folder; a header without a .c is a
module of its own. Module A depends on module B when a file of A includes a file of B. The lint
fails on any cycle of modules, and on any dependency between folders that FOLDER_DEPS does not
allow (a new folder must be declared there). Run with --self-test to check that it catches both.

    include_graph.py [ROOT]          # ROOT: the source tree (default: this checkout)
    include_graph.py --self-test
"""
import os
import re
import sys
import tempfile

# What each folder may include besides itself. The direction is the one of docs/architecture.md:
# the protocol library at the bottom, then the clients' transport, then what uses them.
LIBRARY = ["client/util", "client/protocol"]
FOLDER_DEPS = {
    "client/util": [],
    "client/protocol": ["client/util"],
    "client/transport": LIBRARY,
    "client/service": LIBRARY + ["client/transport"],
    "client/cli": LIBRARY + ["client/transport", "client/service"],
    "client/device": LIBRARY + ["client/transport", "client/cli"],
    "client/examples": ["client/service"],
    # The emulator, bottom up: each folder may use those above it in this list.
    "server/base": LIBRARY + ["client/transport"],
    "server/registry": LIBRARY + ["server/base"],
    "server/context": LIBRARY + ["server/base", "server/registry"],
    "server/mqtt": LIBRARY + ["server/base", "server/registry", "server/context"],
    "server/mqtt/plugin": LIBRARY + ["server/base", "server/registry", "server/mqtt"],
    "server/http": LIBRARY + ["server/base", "server/registry", "server/context"],
    # Features: each uses the edges (mqtt, http) and what is below them, never another feature.
    "server/devices": LIBRARY + ["server/base", "server/registry", "server/context",
                                 "server/http"],
    "server/streams": LIBRARY + ["server/base", "server/registry", "server/context",
                                 "server/mqtt", "server/http"],
    "server/methods": LIBRARY + ["server/base", "server/registry", "server/context",
                                 "server/mqtt", "server/http"],
    "server/twins": LIBRARY + ["server/base", "server/registry", "server/context",
                               "server/mqtt", "server/http"],
    "server/telemetry": LIBRARY + ["server/base", "server/registry", "server/context",
                                   "server/mqtt", "server/http"],
    "server/c2d": LIBRARY + ["server/base", "server/registry", "server/context",
                             "server/mqtt", "server/http"],
    # The web page shows what the features do.
    "server/web": LIBRARY + ["server/base", "server/registry", "server/context", "server/mqtt",
                             "server/http", "server/streams", "server/methods",
                             "server/twins", "server/telemetry", "server/c2d"],
    # main and what puts the parts together.
    "server/app": LIBRARY + ["server/base", "server/registry", "server/context", "server/mqtt",
                             "server/http", "server/devices", "server/streams", "server/methods",
                             "server/twins", "server/telemetry", "server/c2d", "server/web"],
}
TREES = ("server", "client")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def source_files(root):
    for tree in TREES:
        for folder, _, names in os.walk(os.path.join(root, tree)):
            for name in names:
                if name.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(folder, name), root)


def resolve(include, including, by_suffix):
    """The file an #include "..." names: the including file's folder first, else the one file of
    the trees whose path ends with it (the build's include directories). None: a system or
    generated header."""
    here = os.path.normpath(os.path.join(os.path.dirname(including), include))
    if here in by_suffix.get(os.path.basename(include), ()):
        return here
    found = [f for f in by_suffix.get(os.path.basename(include), ())
             if f == include or f.endswith("/" + include)]
    return found[0] if len(found) == 1 else None


def module_of(path):
    return os.path.splitext(path)[0]


def build_graph(root):
    files = sorted(source_files(root))
    by_name = {}
    for f in files:
        by_name.setdefault(os.path.basename(f), []).append(f)
    graph = {module_of(f): set() for f in files}
    for f in files:
        with open(os.path.join(root, f), errors="replace") as text:
            includes = INCLUDE.findall(text.read())
        for inc in includes:
            target = resolve(inc, f, by_name)
            if target is not None and module_of(target) != module_of(f):
                graph[module_of(f)].add(module_of(target))
    return graph


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan), each as a list."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def direction_errors(graph):
    errors = []
    for a in sorted(graph):
        fa = os.path.dirname(a)
        if fa not in FOLDER_DEPS:
            errors.append(f"{a}: folder {fa} is not declared in FOLDER_DEPS")
            continue
        for b in sorted(graph[a]):
            fb = os.path.dirname(b)
            if fb != fa and fb not in FOLDER_DEPS[fa]:
                errors.append(f"{a} depends on {b}: {fa} may not use {fb}")
    return errors


def check(root):
    graph = build_graph(root)
    problems = [f"cycle: {' <-> '.join(c)}" for c in cycles(graph)] + direction_errors(graph)
    return graph, problems


def self_test():
    """A tree with one cycle and one dependency against the direction: both must be found."""
    with tempfile.TemporaryDirectory() as root:
        tree = {
            "client/protocol/a.h": '#include "b.h"\n',
            "client/protocol/a.c": '#include "a.h"\n',
            "client/protocol/b.h": "",
            "client/protocol/b.c": '#include "b.h"\n#include "a.h"\n',
            "client/protocol/c.c": '#include "transport/t.h"\n',
            "client/transport/t.h": '#include "protocol/b.h"\n',
            "server/base/s.c": '#include "protocol/b.h"\n#include <stdio.h>\n',
        }
        for path, text in tree.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write(text)
        _, problems = check(root)
        expected = ["cycle: client/protocol/a <-> client/protocol/b",
                    "client/protocol/c depends on client/transport/t: client/protocol may not "
                    "use client/transport"]
        if problems != expected:
            print("self-test failed: found\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
    print("self-test passed: a cycle and a dependency against the direction were both found")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    graph, problems = check(os.path.abspath(root))
    for p in problems:
        print(p, file=sys.stderr)
    edges = sum(len(v) for v in graph.values())
    if problems:
        print(f"{len(problems)} problem(s) in the include graph", file=sys.stderr)
        return 1
    print(f"{len(graph)} modules, {edges} dependencies: no cycle, all in the declared direction")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
