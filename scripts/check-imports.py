#!/usr/bin/env python3
"""Checks that Package.swift says exactly what each target imports.

For every Swift target (sources, executables, tests), the modules its files import must be the
modules it declares as dependencies, no more and no fewer. Modules of the toolchain (Foundation,
Glibc, Testing, ...) need no declaration. A module reachable only through another target's
dependencies builds today but breaks as soon as that other target drops it, so it must be
declared where it is imported.

Usage: scripts/check-imports.py [PACKAGE_DIR]   (exit 0: consistent, 1: mismatches, 2: cannot run)
"""
import json
import os
import re
import subprocess
import sys

TOOLCHAIN_MODULES = {
    "Foundation", "FoundationEssentials", "FoundationNetworking", "FoundationXML", "Dispatch",
    "Glibc", "Musl", "Darwin", "Android", "WinSDK", "Swift", "_Concurrency", "_StringProcessing",
    "Synchronization", "RegexBuilder", "Observation", "Distributed", "Testing", "XCTest", "os",
}

IMPORT = re.compile(
    r"^\s*(?:@[A-Za-z_]+(?:\([^)]*\))?\s+)*import\s+"
    r"(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)",
    re.MULTILINE,
)


def dependency_module(dep):
    """The module a dependency entry makes importable."""
    for kind in ("byName", "target", "product"):
        if kind in dep:
            return dep[kind][0]
    raise ValueError(f"unknown dependency entry {dep}")


def target_directory(root, target):
    if target.get("path"):
        return os.path.join(root, target["path"])
    base = "Tests" if target["type"] == "test" else "Sources"
    return os.path.join(root, base, target["name"])


def header_imports(text):
    """Modules imported in a file's header: the imports, comments, blank lines and #if blocks
    before its first declaration (so `import` inside a string literal never counts)."""
    modules = []
    in_block_comment = False
    for line in text.splitlines():
        stripped = line.strip()
        if in_block_comment:
            in_block_comment = "*/" not in stripped
            continue
        if stripped.startswith("/*"):
            in_block_comment = "*/" not in stripped
            continue
        if not stripped or stripped.startswith("//") or stripped.startswith("#"):
            continue
        match = IMPORT.match(line)
        if not match:
            break
        modules.append(match.group(1))
    return modules


def imports_in(directory):
    found = {}
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = [d for d in dirnames if d != "Fixtures"]
        for name in filenames:
            if not name.endswith(".swift"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as f:
                for module in header_imports(f.read()):
                    found.setdefault(module, path)
    return found


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    try:
        dump = subprocess.run(["swift", "package", "--package-path", root, "dump-package"],
                              check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"check-imports: cannot read Package.swift: {error}", file=sys.stderr)
        return 2
    package = json.loads(dump)
    problems = []
    for target in package["targets"]:
        if target["type"] in ("system", "binary", "plugin", "macro"):
            continue
        declared = {dependency_module(d) for d in target.get("dependencies", [])}
        imported = imports_in(target_directory(root, target))
        for module, path in sorted(imported.items()):
            if module in TOOLCHAIN_MODULES or module == target["name"] or module in declared:
                continue
            problems.append(f"{target['name']}: imports {module} ({os.path.relpath(path, root)}) "
                            f"but does not declare it; add it to the target's dependencies in Package.swift")
        for module in sorted(declared - set(imported)):
            problems.append(f"{target['name']}: declares {module} but no file imports it; "
                            f"remove it from the target's dependencies in Package.swift")
    for line in problems:
        print(line)
    if problems:
        print(f"check-imports: {len(problems)} mismatch(es) between Package.swift and the imports", file=sys.stderr)
        return 1
    print(f"check-imports: Package.swift matches the imports of every target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
