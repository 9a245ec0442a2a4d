#!/usr/bin/env python3
"""Checks that Kiln's .pte schema (Schemas/program.fbs and the files it includes) declares the
same things as the schema in pip's executorch 1.5.1 wheel (exir/_serialize/program.fbs).

    python3 scripts/pte/compare_schema.py [--ours DIR] [--theirs DIR]

Both sides are parsed by the small, strict .fbs parser below (anything it does not understand is
an error with file and line, never silently skipped) and compared declaration by declaration:
namespace, include, file_identifier, file_extension and root_type per file; for every table and
struct its fields in order with name, type, default and attributes; for every enum its
underlying type and values; for every union its members and tags. Comments and the order of
declarations in a file are free; scalar type aliases (`long` and `int64`, ...) are the same type.

Prints each difference and exits 1, or prints "schemas match: N tables, M enums, K unions" and
exits 0. Exits 0 with a line starting "SKIP:" when the wheel is not installed.
"""
import argparse
import importlib.util
import os
import re
import sys

SKIP = "SKIP: executorch wheel not installed (pip install executorch==1.5.1)"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Scalar type names and their aliases, mapped to one spelling.
SCALARS = {
    "bool": "bool",
    "byte": "int8", "int8": "int8", "ubyte": "uint8", "uint8": "uint8",
    "short": "int16", "int16": "int16", "ushort": "uint16", "uint16": "uint16",
    "int": "int32", "int32": "int32", "uint": "uint32", "uint32": "uint32",
    "long": "int64", "int64": "int64", "ulong": "uint64", "uint64": "uint64",
    "float": "float32", "float32": "float32", "double": "float64", "float64": "float64",
    "string": "string",
}
INTEGER_SCALARS = {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}


class SchemaError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Tokenizer

TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<line_comment>//[^\n]*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[{}()\[\]:;,=])
""", re.VERBOSE | re.DOTALL)


def tokenize(text, path):
    tokens, pos, line = [], 0, 1
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise SchemaError(f"{path}:{line}: unexpected character {text[pos]!r}")
        kind, value = m.lastgroup, m.group()
        if kind not in ("space", "line_comment", "block_comment"):
            tokens.append((kind, value, line))
        line += value.count("\n")
        pos = m.end()
    tokens.append(("eof", "", line))
    return tokens


# ---------------------------------------------------------------------------------------------
# Parser: one file into a dict of its declarations.

class Parser:
    def __init__(self, path):
        self.path = path
        with open(path, encoding="utf-8") as f:
            self.tokens = tokenize(f.read(), path)
        self.i = 0
        self.namespace = ""
        self.file = {"includes": [], "namespace": None, "file_identifier": None,
                     "file_extension": None, "root_type": None, "decls": {}}

    # Token helpers.
    def peek(self):
        return self.tokens[self.i]

    def error(self, message):
        return SchemaError(f"{os.path.basename(self.path)}:{self.peek()[2]}: {message}")

    def take(self, kind=None, value=None):
        tok = self.peek()
        if (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            want = repr(value) if value is not None else kind
            raise self.error(f"expected {want}, found {tok[1] or 'end of file'!r}")
        self.i += 1
        return tok[1]

    def accept(self, value):
        if self.peek()[0] == "punct" and self.peek()[1] == value:
            self.i += 1
            return True
        return False

    def qualify(self, name):
        return f"{self.namespace}.{name}" if self.namespace else name

    # Grammar.
    def parse(self):
        while self.peek()[0] != "eof":
            keyword = self.take("ident")
            if keyword == "include":
                self.file["includes"].append(self.string())
                self.take("punct", ";")
            elif keyword == "namespace":
                self.namespace = self.take("ident")
                if self.file["namespace"] not in (None, self.namespace):
                    raise self.error("more than one namespace in a file is not supported")
                self.file["namespace"] = self.namespace
                self.take("punct", ";")
            elif keyword in ("file_identifier", "file_extension", "root_type"):
                if self.file[keyword] is not None:
                    raise self.error(f"{keyword} given twice")
                self.file[keyword] = self.take("ident") if keyword == "root_type" else self.string()
                self.take("punct", ";")
            elif keyword == "attribute":
                self.string()
                self.take("punct", ";")
            elif keyword in ("table", "struct"):
                self.declare(self.table(keyword))
            elif keyword == "enum":
                self.declare(self.enum())
            elif keyword == "union":
                self.declare(self.union())
            else:
                raise self.error(f"unsupported declaration {keyword!r}")
        return self.file

    def declare(self, decl):
        name = decl["name"]
        if name in self.file["decls"]:
            raise self.error(f"{name} declared twice")
        self.file["decls"][name] = decl

    def string(self):
        return self.take("string")[1:-1]

    def scalar_value(self):
        kind, value, _ = self.peek()
        if kind in ("number", "ident", "string"):
            self.i += 1
            return value[1:-1] if kind == "string" else value
        raise self.error(f"expected a value, found {value!r}")

    def attributes(self):
        attrs = {}
        if not self.accept("("):
            return attrs
        while True:
            key = self.take("ident")
            attrs[key] = self.scalar_value() if self.accept(":") else None
            if self.accept(")"):
                return attrs
            self.take("punct", ",")

    def field_type(self):
        if self.accept("["):
            element = self.take("ident")
            length = self.take("number") if self.accept(":") else None
            self.take("punct", "]")
            return ("array", element, length) if length else ("vector", element)
        return ("single", self.take("ident"))

    def table(self, kind):
        name = self.qualify(self.take("ident"))
        decl = {"kind": kind, "name": name, "attributes": self.attributes(), "fields": [],
                "namespace": self.namespace}
        self.take("punct", "{")
        while not self.accept("}"):
            field_name = self.take("ident")
            self.take("punct", ":")
            field_type = self.field_type()
            default = self.scalar_value() if self.accept("=") else None
            attrs = self.attributes()
            self.take("punct", ";")
            if any(f["name"] == field_name for f in decl["fields"]):
                raise self.error(f"field {field_name} declared twice in {name}")
            decl["fields"].append({"name": field_name, "type": field_type, "default": default,
                                   "attributes": attrs})
        return decl

    def enum(self):
        name = self.qualify(self.take("ident"))
        self.take("punct", ":")
        underlying = self.take("ident")
        if SCALARS.get(underlying) not in INTEGER_SCALARS:
            raise self.error(f"enum {name} must have an integer underlying type, not {underlying}")
        decl = {"kind": "enum", "name": name, "underlying": SCALARS[underlying],
                "attributes": self.attributes(), "values": []}
        self.take("punct", "{")
        next_value = 0
        while not self.accept("}"):
            value_name = self.take("ident")
            if self.accept("="):
                next_value = int(self.take("number"), 0)
            decl["values"].append((value_name, next_value))
            next_value += 1
            if not self.accept(","):
                self.take("punct", "}")
                break
        return decl

    def union(self):
        name = self.qualify(self.take("ident"))
        decl = {"kind": "union", "name": name, "attributes": self.attributes(), "members": [],
                "namespace": self.namespace}
        self.take("punct", "{")
        tag = 1  # 0 is NONE
        while not self.accept("}"):
            member = self.take("ident")
            member_type = self.take("ident") if self.accept(":") else member
            if self.accept("="):
                tag = int(self.take("number"), 0)
            decl["members"].append((member, member_type, tag))
            tag += 1
            if not self.accept(","):
                self.take("punct", "}")
                break
        return decl


# ---------------------------------------------------------------------------------------------
# Loading: a root file and everything it includes, resolved into one schema.

def load(root_path):
    files, order, pending = {}, [], [os.path.abspath(root_path)]
    while pending:
        path = pending.pop(0)
        if path in files:
            continue
        if not os.path.exists(path):
            raise SchemaError(f"{path}: no such file")
        parsed = Parser(path).parse()
        files[path] = parsed
        order.append(path)
        for inc in parsed["includes"]:
            pending.append(os.path.join(os.path.dirname(path), inc))
    decls = {}
    for path in order:
        for name, decl in files[path]["decls"].items():
            if name in decls:
                raise SchemaError(f"{os.path.basename(path)}: {name} declared in two files")
            decls[name] = decl
    # Resolve type names used by fields and unions to fully qualified declarations.
    for decl in decls.values():
        if decl["kind"] in ("table", "struct"):
            for field in decl["fields"]:
                field["type"] = resolve_type(field["type"], decl, decls)
                field["default"] = normalize_default(field, decls)
                field["attributes"] = {k: normalize_literal(v) for k, v in field["attributes"].items()}
        elif decl["kind"] == "union":
            decl["members"] = [(m, resolve_name(t, decl, decls), tag) for m, t, tag in decl["members"]]
    return {os.path.basename(p): files[p] for p in order}, decls


def resolve_name(name, decl, decls):
    namespace = decl.get("namespace", "")
    candidates = [f"{namespace}.{name}" if namespace else name, name]
    for candidate in candidates:
        if candidate in decls:
            return candidate
    raise SchemaError(f"{decl['name']}: unknown type {name}")


def resolve_type(field_type, decl, decls):
    element = field_type[1]
    element = SCALARS[element] if element in SCALARS else resolve_name(element, decl, decls)
    return (field_type[0], element) + tuple(field_type[2:])


def normalize_literal(value):
    if value is None:
        return None
    try:
        return int(value, 0)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def normalize_default(field, decls):
    """A written default as a comparable value: enum names become their numbers (so `= CPU` and
    `= 0` agree); an absent default stays None, so writing one where the other side has none is
    reported."""
    default = field["default"]
    if default is None:
        return None
    kind, element = field["type"][0], field["type"][1]
    if kind == "single" and element in decls and decls[element]["kind"] == "enum":
        values = dict(decls[element]["values"])
        if default in values:
            return values[default]
        literal = normalize_literal(default)
        if isinstance(literal, int):
            return literal
        raise SchemaError(f"default {default!r} is not a value of {element}")
    if default in ("true", "false"):
        return 1 if default == "true" else 0
    return normalize_literal(default)


# ---------------------------------------------------------------------------------------------
# Comparison

def fmt_default(value):
    return "none written" if value is None else f"= {value}"


def describe_type(t):
    if t[0] == "vector":
        return f"[{t[1]}]"
    if t[0] == "array":
        return f"[{t[1]}:{t[2]}]"
    return t[1]


def compare(ours, theirs):
    (our_files, our_decls), (their_files, their_decls) = ours, theirs
    diffs = []

    for name in sorted(set(our_files) | set(their_files)):
        if name not in our_files:
            diffs.append(f"{name}: in the wheel's schema, missing from ours")
            continue
        if name not in their_files:
            diffs.append(f"{name}: in our schema, not in the wheel's")
            continue
        for key in ("includes", "namespace", "file_identifier", "file_extension", "root_type"):
            a, b = our_files[name][key], their_files[name][key]
            if a != b:
                diffs.append(f"{name}: {key}: ours {a!r}, wheel {b!r}")

    for name in sorted(set(our_decls) | set(their_decls)):
        a, b = our_decls.get(name), their_decls.get(name)
        if a is None:
            diffs.append(f"{b['kind']} {name}: missing from ours")
            continue
        if b is None:
            diffs.append(f"{a['kind']} {name}: not in the wheel's schema")
            continue
        where = f"{a['kind']} {name}"
        if a["kind"] != b["kind"]:
            diffs.append(f"{name}: ours is a {a['kind']}, the wheel's a {b['kind']}")
            continue
        if a["attributes"] != b["attributes"]:
            diffs.append(f"{where}: attributes ours {a['attributes']}, wheel {b['attributes']}")
        if a["kind"] in ("table", "struct"):
            diffs += compare_fields(where, a["fields"], b["fields"])
        elif a["kind"] == "enum":
            if a["underlying"] != b["underlying"]:
                diffs.append(f"{where}: underlying type ours {a['underlying']}, wheel {b['underlying']}")
            diffs += compare_named(f"{where}: value", a["values"], b["values"])
        else:
            members = lambda d: [(m, (t, tag)) for m, t, tag in d["members"]]
            diffs += compare_named(f"{where}: member", members(a), members(b))
    return diffs


def compare_named(label, ours, theirs):
    """Differences between two ordered lists of (name, value): missing, extra, changed, moved."""
    diffs, our_map, their_map = [], dict(ours), dict(theirs)
    for name, value in theirs:
        if name not in our_map:
            diffs.append(f"{label} {name} ({fmt_value(value)}): missing from ours")
        elif our_map[name] != value:
            diffs.append(f"{label} {name}: ours {fmt_value(our_map[name])}, wheel {fmt_value(value)}")
    for name, value in ours:
        if name not in their_map:
            diffs.append(f"{label} {name} ({fmt_value(value)}): not in the wheel's schema")
    common = [n for n, _ in ours if n in their_map]
    if not diffs and common != [n for n, _ in theirs if n in our_map]:
        diffs.append(f"{label}s in a different order: ours {', '.join(n for n, _ in ours)}, "
                     f"wheel {', '.join(n for n, _ in theirs)}")
    return diffs


def fmt_value(value):
    if isinstance(value, tuple):  # a union member: (type, tag)
        return f"type {value[0]}, tag {value[1]}"
    return str(value)


def compare_fields(where, ours, theirs):
    diffs = []
    for index in range(max(len(ours), len(theirs))):
        a = ours[index] if index < len(ours) else None
        b = theirs[index] if index < len(theirs) else None
        if a is None:
            diffs.append(f"{where}: field {index} ({b['name']}): missing from ours")
            continue
        if b is None:
            diffs.append(f"{where}: field {index} ({a['name']}): not in the wheel's schema")
            continue
        label = f"{where}: field {index} ({a['name']})"
        if a["name"] != b["name"]:
            diffs.append(f"{where}: field {index}: name ours {a['name']}, wheel {b['name']}")
        if a["type"] != b["type"]:
            diffs.append(f"{label}: type ours {describe_type(a['type'])}, wheel {describe_type(b['type'])}")
        if a["default"] != b["default"]:
            diffs.append(f"{label}: default ours {fmt_default(a['default'])}, wheel {fmt_default(b['default'])}")
        if a["attributes"] != b["attributes"]:
            diffs.append(f"{label}: attributes ours {a['attributes']}, wheel {b['attributes']}")
    return diffs


# ---------------------------------------------------------------------------------------------

def wheel_schema_dir():
    spec = importlib.util.find_spec("executorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "exir", "_serialize")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ours", default=os.path.join(REPO, "Schemas"),
                        help="directory with Kiln's program.fbs (default: Schemas/)")
    parser.add_argument("--theirs", help="directory with the reference program.fbs "
                                         "(default: the installed executorch wheel's)")
    args = parser.parse_args()

    theirs_dir = args.theirs or wheel_schema_dir()
    if theirs_dir is None:
        print(SKIP)
        return 0
    try:
        ours = load(os.path.join(args.ours, "program.fbs"))
        theirs = load(os.path.join(theirs_dir, "program.fbs"))
    except (SchemaError, OSError) as e:
        print(f"compare_schema: {e}", file=sys.stderr)
        return 1

    diffs = compare(ours, theirs)
    if diffs:
        for d in diffs:
            print(d)
        print(f"schemas differ: {len(diffs)} difference(s) between {args.ours} and {theirs_dir}")
        return 1
    decls = ours[1].values()
    count = lambda kinds: sum(1 for d in decls if d["kind"] in kinds)
    structs = count(("struct",))
    print(f"schemas match: {count(('table',))} tables, {count(('enum',))} enums, "
          f"{count(('union',))} unions" + (f", {structs} structs" if structs else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
