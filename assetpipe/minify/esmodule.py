"""Top-level renaming for ES modules, which tdewolff-minify does not do on its own.

A module's top-level names are private to it, so a minifier may shorten them, as it shortens a function's
locals; tdewolff-minify cannot tell a module from a script (where top-level names are globals) and keeps
them. That is most of its gap to esbuild on modular code (lodash-es: +29 %).

The trick: the module's body, without its import and export statements, is minified as the body of a
function whose parameters are the imported bindings, ending in a call that names every binding the
module exports. The minifier renames them all as locals; the call tells which new name each one got.
The module is then put back together: its imports with the new local names, the minified body, and one
`export {new as old}` clause.

A module's top level and a strict function's body give the same meaning to the same statements, with
these exceptions, each of which makes the pass decline (NotAModule: the caller keeps the plain result):
`arguments` outside any function, `return` outside any function, HTML-like comments (`<!--`, `-->`,
comments in a script, operators in a module), a hashbang, a default export of an anonymous function or
class (its `name` would change), and anything tree-sitter's JavaScript grammar does not parse cleanly.
`export default x` becomes `export {x as default}` (a live binding) only when x is a function, or a
binding declared before that statement and never assigned; otherwise the value is taken into a const
at that point, as the original does.

Only files with an import or export statement are treated as modules: nothing else can tell a module
from a script, and renaming a script's top level would break every other script that uses its globals.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_FUNCTIONS = frozenset({"function_declaration", "function_expression", "function", "generator_function",
                        "generator_function_declaration", "method_definition"})
_SCOPES_WITH_RETURN = _FUNCTIONS | {"arrow_function"}
_TEXTS = frozenset({"string", "template_string", "regex", "comment"})
_HOISTED = frozenset({"function_declaration", "generator_function_declaration"})
_ANONYMOUS_VALUES = frozenset({"function_expression", "function", "generator_function", "arrow_function",
                               "class"})
# Goes into the minifier's cache key: raise it when a change here changes any output.
REVISION = 1
# What assigns to the identifier in its `left` field (`argument` for `++`/`--`), and the destructuring
# patterns an assigned identifier may sit in.
_ASSIGNMENTS = frozenset({"assignment_expression", "augmented_assignment_expression", "update_expression",
                          "for_in_statement"})
_PATTERNS = frozenset({"array_pattern", "object_pattern", "pair_pattern", "rest_pattern", "assignment_pattern",
                       "object_assignment_pattern"})


class NotAModule(Exception):
    """The source is not a module this renaming handles; the reason is the message."""


@dataclass(frozen=True)
class _Import:
    """One import statement: its text split around the bindings it declares."""

    default: str | None  # the default binding's local name
    namespace: str | None  # `* as name`
    named: tuple[tuple[str, str], ...]  # (imported name as written, local name)
    tail: bytes  # `from "source"` and any import attributes, or just the source for a bare import
    bare: bool  # `import "side-effect"`: no clause


@dataclass(frozen=True)
class _Parts:
    """A module taken apart: requests (imports, re-exports) in order, the body, and what it exports."""

    requests: tuple[_Import | bytes, ...]  # bytes: an `export … from` statement kept as written
    body: bytes
    exports: tuple[tuple[str, str], ...]  # (local name, exported name as written)


def minify_module(source: bytes, minify_js: Callable[[str], str]) -> str:
    """The module minified with its top-level names renamed; raises NotAModule when that cannot be done
    safely, and passes on whatever `minify_js` raises."""
    parts = _take_apart(source)
    imported = [name for request in parts.requests if isinstance(request, _Import)
                for name in _import_locals(request)]
    kept = imported + [local for local, _ in parts.exports]
    keep = _absent_name(source, "__assetpipe_keep")
    wrapper = (f"{keep}(async function({','.join(imported)}){{\"use strict\";\n".encode()
               + parts.body + f"\n;{keep}({','.join(kept)})}})".encode())
    minified = minify_js(wrapper.decode("utf-8")).encode("utf-8")
    body, renamed, body_complete = _unwrap(minified, keep, len(kept))
    names = dict(zip(kept, renamed, strict=True))
    # Each piece, and whether it ends its last statement itself (no `;` needed after it).
    out = [(_import_text(request, names) if isinstance(request, _Import) else request, False)
           for request in parts.requests]
    out.append((body, body_complete))
    if parts.exports:
        specifiers = [names[local] if names[local] == exported else f"{names[local]} as {exported}"
                      for local, exported in parts.exports]
        out.append((f"export{{{','.join(specifiers)}}}".encode(), False))
    result = b""
    complete = True
    for piece, piece_complete in out:
        piece = piece.strip(b" \n")
        if not piece.strip(b";"):
            continue
        if not complete and not result.endswith(b";"):
            # A line comment the minifier kept (`//!`) would swallow what follows on its line.
            result += b"\n;" if b"//" in result.rpartition(b"\n")[2] else b";"
        result += piece
        complete = piece_complete
    _check_reassembled(result, parts)
    return result.decode("utf-8")


def _check_reassembled(result: bytes, parts: _Parts) -> None:
    root = _parse(result).root_node
    if root.has_error:
        raise NotAModule("the reassembled module does not parse")
    kinds = [node.type for node in root.children]
    if (kinds.count("import_statement") + kinds.count("export_statement")
            != len(parts.requests) + bool(parts.exports)):
        raise NotAModule("the reassembled module lost an import or export statement")
    if b"return" in result and any(node.type == "return_statement" for node in _outside_functions(root)):
        raise NotAModule("the minifier put a `return` at the top level (valid in the wrapper only)")


def _parse(source: bytes):  # type: ignore[no-untyped-def]
    import tree_sitter

    return tree_sitter.Parser(_language()).parse(source)


def _take_apart(source: bytes) -> _Parts:
    if b"import" not in source and b"export" not in source:
        raise NotAModule("no import or export statement")
    if source.startswith(b"#!"):
        raise NotAModule("has a hashbang line")
    root = _parse(source).root_node
    if root.has_error:
        raise NotAModule("does not parse")
    if _html_like_comment(source, root):
        raise NotAModule("has <!-- or --> in code: comments in a script, operators in a module")
    if not any(node.type in ("import_statement", "export_statement") for node in root.children):
        raise NotAModule("no import or export statement")
    _check_top_level(source, root)
    declared_before: set[str] = set()
    hoisted = {_text(node.child_by_field_name("name")) for node in _top_statements(root) if node.type in _HOISTED}
    requests: list[_Import | bytes] = []
    body: list[bytes] = []
    exports: list[tuple[str, str]] = []
    default_name = _absent_name(source, "__assetpipe_default")
    for node in root.children:
        if node.type == "import_statement":
            requests.append(_read_import(node))
        elif node.type != "export_statement":
            body.append(node.text or b"")
            declared_before.update(_declared_names(node))
        elif node.child_by_field_name("source") is not None:
            requests.append(node.text or b"")
        elif (declaration := node.child_by_field_name("declaration")) is not None:
            names = _declared_names(declaration)
            if not names:
                raise NotAModule("exports a declaration without a name")
            body.append(declaration.text or b"")
            is_default = any(child.type == "default" for child in node.children)
            exports.extend((name, "default" if is_default else name) for name in names)
            declared_before.update(names)
        elif (value := node.child_by_field_name("value")) is not None:
            inner = value
            while inner.type == "parenthesized_expression" and inner.named_children:
                inner = inner.named_children[0]
            if inner.type in _ANONYMOUS_VALUES:
                raise NotAModule("exports an anonymous function or class as default (its name would change)")
            name = _text(value) if value.type == "identifier" else ""
            if name and (name in hoisted or name in declared_before) and not _assigned(source, root, name):
                exports.append((name, "default"))
            else:
                if any(exported == "default" for _, exported in exports):
                    raise NotAModule("exports a default twice")
                body.append(f"const {default_name}=(".encode() + (value.text or b"") + b");")
                exports.append((default_name, "default"))
        else:
            exports.extend(_read_export_clause(node))
    # Each statement ends with an empty one: one that relied on a newline and the import or export
    # statement after it to end (ASI) must not run into the next (`a = f` and `(b)()` would become `f(b)()`).
    return _Parts(tuple(requests), b"\n;\n".join(body), tuple(exports))


def _check_top_level(source: bytes, root) -> None:  # type: ignore[no-untyped-def]
    for node in _nodes_at(source, root, b"arguments"):
        if node.type == "identifier" and not _inside(node, _FUNCTIONS):
            raise NotAModule("uses `arguments` outside any function")


def _nodes_at(source: bytes, root, text: bytes) -> Iterator:  # type: ignore[no-untyped-def]
    """The smallest node around each place `text` appears in the source (found by bytes, not by walking
    the tree: a walk in Python is most of the pass's time on a large module)."""
    start = source.find(text)
    while start >= 0:
        yield root.descendant_for_byte_range(start, start + len(text))
        start = source.find(text, start + 1)


def _outside_functions(root) -> Iterator:  # type: ignore[no-untyped-def]
    """Every node not inside a function, method or arrow function (those are not walked into)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in node.children if child.type not in _SCOPES_WITH_RETURN)


def _html_like_comment(source: bytes, root) -> bool:  # type: ignore[no-untyped-def]
    """Whether `<!--` or `-->` appears outside strings, templates, regular expressions and comments."""
    for marker in (b"<!--", b"-->"):
        for node in _nodes_at(source, root, marker):
            while node is not None and node.type not in _TEXTS and node.type != "template_substitution":
                node = node.parent
            if node is None or node.type == "template_substitution":
                return True
    return False


@functools.cache
def _language():  # type: ignore[no-untyped-def]
    """The JavaScript grammar, loaded once (read-only; a parser per call, as parsers are not thread-safe)."""
    import tree_sitter
    import tree_sitter_javascript

    return tree_sitter.Language(tree_sitter_javascript.language())


def _inside(node, kinds: frozenset[str]) -> bool:  # type: ignore[no-untyped-def]
    parent = node.parent
    while parent is not None:
        if parent.type in kinds:
            return True
        parent = parent.parent
    return False


def _assigned(source: bytes, root, name: str) -> bool:  # type: ignore[no-untyped-def]
    """Whether an identifier spelled `name` is assigned anywhere (`=`, `+=`, `++`, `for (name of …)`, a
    destructuring assignment, or a `var` declaration with a value after the first), whatever its scope:
    erring towards yes only costs a few bytes."""
    spelled = name.encode("utf-8")
    declarations = 0
    for node in _nodes_at(source, root, spelled):
        if node.type not in ("identifier", "shorthand_property_identifier_pattern") or node.text != spelled:
            continue
        while node.parent is not None and node.parent.type in _PATTERNS:
            node = node.parent
        parent = node.parent
        if parent is None:
            continue
        if parent.type == "variable_declarator" and parent.child_by_field_name("value") is not None:
            declarations += 1
        field = "argument" if parent.type == "update_expression" else "left"
        if parent.type in _ASSIGNMENTS and parent.child_by_field_name(field) == node:
            return True
    return declarations > 1


def _top_statements(root) -> Iterator:  # type: ignore[no-untyped-def]
    """The top-level statements, an exported declaration as the declaration itself."""
    for node in root.children:
        if node.type == "export_statement":
            node = node.child_by_field_name("declaration")
        if node is not None:
            yield node


def _declared_names(node) -> list[str]:  # type: ignore[no-untyped-def]
    if node.type in ("function_declaration", "generator_function_declaration", "class_declaration"):
        return [_text(node.child_by_field_name("name"))]
    if node.type in ("lexical_declaration", "variable_declaration"):
        return [name for declarator in node.named_children if declarator.type == "variable_declarator"
                for name in _pattern_names(declarator.child_by_field_name("name"))]
    return []


def _pattern_names(node) -> list[str]:  # type: ignore[no-untyped-def]
    if node.type in ("identifier", "shorthand_property_identifier_pattern"):
        return [_text(node)]
    if node.type in ("object_pattern", "array_pattern", "rest_pattern"):
        return [name for child in node.named_children for name in _pattern_names(child)]
    if node.type == "pair_pattern":
        return _pattern_names(node.child_by_field_name("value"))
    if node.type in ("assignment_pattern", "object_assignment_pattern"):
        return _pattern_names(node.child_by_field_name("left"))
    if node.type == "comment":
        return []
    raise NotAModule(f"declares names in a pattern it does not know ({node.type})")


def _read_import(node) -> _Import:  # type: ignore[no-untyped-def]
    clause = next((child for child in node.children if child.type == "import_clause"), None)
    source = node.child_by_field_name("source")
    tail = (node.text or b"")[source.start_byte - node.start_byte:].rstrip(b"; \n")
    if clause is None:
        return _Import(None, None, (), tail, bare=True)
    default = namespace = None
    named: list[tuple[str, str]] = []
    for part in clause.named_children:
        if part.type == "identifier":
            default = _text(part)
        elif part.type == "namespace_import":
            namespace = _text(next(child for child in part.named_children if child.type == "identifier"))
        elif part.type == "named_imports":
            for spec in part.named_children:
                if spec.type != "import_specifier":
                    continue
                name = spec.child_by_field_name("name")
                alias = spec.child_by_field_name("alias")
                named.append((_text(name), _text(alias if alias is not None else name)))
        else:
            raise NotAModule(f"has an import clause it does not know ({part.type})")
    return _Import(default, namespace, tuple(named), tail, bare=False)


def _import_locals(request: _Import) -> list[str]:
    return [name for name in (request.default, request.namespace) if name] + [local for _, local in request.named]


def _import_text(request: _Import, names: dict[str, str]) -> bytes:
    if request.bare:
        return b"import" + request.tail
    clause = [names[request.default]] if request.default else []
    if request.namespace:
        clause.append(f"*as {names[request.namespace]}")
    if request.named or not clause:
        clause.append("{" + ",".join(imported if imported == names[local] else f"{imported} as {names[local]}"
                                     for imported, local in request.named) + "}")
    text = ",".join(clause)
    return (b"import" + (b"" if text[0] in "{*" else b" ") + text.encode()
            + (b"" if text.endswith("}") else b" ") + b"from" + request.tail)


def _read_export_clause(node) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    clause = next((child for child in node.children if child.type == "export_clause"), None)
    if clause is None:
        raise NotAModule(f"has an export statement it does not know ({_text(node)[:40]!r})")
    exports = []
    for spec in clause.named_children:
        if spec.type != "export_specifier":
            continue
        name = spec.child_by_field_name("name")
        alias = spec.child_by_field_name("alias")
        if name.type != "identifier":
            raise NotAModule("exports a local name written as a string")
        exports.append((_text(name), _text(alias if alias is not None else name)))
    return exports


def _absent_name(source: bytes, stem: str) -> str:
    """A name that appears nowhere in the source, so it cannot collide with one of the module's."""
    number = 0
    while f"{stem}{number}".encode() in source:
        number += 1
    return f"{stem}{number}"


def _unwrap(minified: bytes, keep: str, count: int) -> tuple[bytes, list[str], bool]:
    """The minified body, the new names of the kept bindings, and whether the body's last statement
    ends itself (the minifier put no `;` or `,` before the final call: `function f(){}`, `if(a){}`).

    Found by text, not by parsing again: the wrapper must still begin with the sentinel's call and a
    function head, and end with the sentinel's call and the closing brackets; the sentinel appears
    nowhere else, and whatever the cut gets wrong, the reassembled module's parse catches."""
    sentinel = keep.encode()
    head = re.match(rb"%s\(async\s*(?:function\s*)?(?:\([^(){}]*\)|[^\s(){}=]+)\s*(?:=>\s*)?\{" % sentinel,
                    minified)
    tail = re.search(rb"[,;]?\s*%s\(([^(){}]*)\)\s*\}\s*\)\s*;?\s*$" % sentinel, minified)
    if head is None or tail is None or minified.count(sentinel) != 2:
        raise NotAModule("the minifier changed the wrapper's shape")
    renamed = [name.strip() for name in tail.group(1).decode("utf-8").split(",")] if count else []
    if len(renamed) != count or not all(renamed):
        raise NotAModule("the minifier changed the call that names the kept bindings")
    body = minified[head.end():tail.start()]
    complete = tail.group(0).startswith(sentinel) and body.endswith(b"}")
    for directive in (b'"use strict";', b"'use strict';"):
        if body.startswith(directive):
            return body[len(directive):], renamed, complete
    return body, renamed, complete


def _text(node) -> str:  # type: ignore[no-untyped-def]
    return (node.text or b"").decode("utf-8")
