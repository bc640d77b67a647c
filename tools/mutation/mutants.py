"""The mutants of one module: small changes to its syntax tree, one at a time.

Every node is visited, module-level code, class bodies and decorated functions included.
``mutants(source)`` lists what can be changed; ``mutate(source, index)`` gives the source
with only the ``index``-th change applied (walking a fresh tree in the same order).

Operators (the name each mutant reports):

    compare   <  <=  >  >=  ==  !=  in  not in  is  is not: the boundary or the negation
    binop     + -, * /, // /, ** * (also in ``x += 1``)
    boolop    and <-> or
    unary     ``not x`` -> ``x``, ``-x`` -> ``x``
    number    an int n -> n + 1 and n - 1; a float f -> f + 1.0
    bool      True <-> False
    string    a string (or bytes) -> "" ("XX" when empty); f-string parts too
    regex     a pattern given to ``re``: a quantifier's bound +/- 1, an optional part made
              mandatory, + <-> *, a class's member or range end changed, an alternative or
              an anchor dropped
    drop      one member of a tuple, list, set or dict literal removed (a constant; outside
              functions a name too)
    swap      two neighbouring members of a short tuple or list exchanged (the same)
    call      min <-> max, any <-> all
    negate    ``if x:`` -> ``if not x:`` (x a name, attribute, call or subscript)
    delete    a statement inside a function replaced by ``pass`` (a call, raise, assert,
              assignment, if, for, continue, break, or a return that is not the last)
    return    ``return`` first in a function annotated ``-> None``

Prose is not mutated: strings inside a ``raise`` (error details) and the texts a
validation appends to its list of problems; docstrings and annotations neither.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

_COMPARE: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Lt: (ast.LtE,),
    ast.LtE: (ast.Lt,),
    ast.Gt: (ast.GtE,),
    ast.GtE: (ast.Gt,),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
}
_BINOP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Pow: ast.Mult,
}
_CALLS = {"min": "max", "max": "min", "any": "all", "all": "any"}
_RE_FUNCTIONS = {"compile", "match", "fullmatch", "search", "sub", "subn", "split", "findall"}
_PROSE_LISTS = {"problems"}  # validations collect their messages in lists of this name
_SWAP_MAX_LEN = 8
_DELETABLE = (
    ast.Expr,
    ast.Raise,
    ast.Assert,
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
    ast.If,
    ast.For,
    ast.Continue,
    ast.Break,
)


@dataclass(frozen=True)
class Mutant:
    """One change to a module, as ``mutants`` lists it."""

    path: str  # relative to the repository, with '/'
    index: int  # its position in the module's walk: what ``mutate`` takes
    operator: str
    line: int
    end_line: int
    scope: str  # "Class.method", or "<module>"
    in_function: bool  # False: module or class level code, run once at import
    names: tuple[str, ...]  # what its module or class level statement binds (a name)
    first_line: int  # where the statement that holds it starts
    before: str
    after: str
    ident: str  # stable across unrelated edits: path, scope and the change itself

    @property
    def lines(self) -> range:
        """The lines a test must execute to run the mutant: its statement's, up to it (a
        constant in a multi-line literal runs on the statement's first line)."""
        return range(min(self.first_line, self.line), self.end_line + 1)

    def describe(self) -> str:
        return f"{self.operator}: {self.before}  ->  {self.after}"


@dataclass
class _Context:
    scope: tuple[str, ...] = ()
    in_function: bool = False
    names: tuple[str, ...] = ()  # the names bound by the module or class level statement
    statement: int = 0  # the first line of the innermost statement
    prose: bool = False  # inside a raise or a problem message: strings are not mutated
    regex: bool = False  # the pattern argument of an ``re`` function
    format_spec: bool = False
    subscript: bool = False  # inside the brackets of a subscript


@dataclass
class _Site:
    operator: str
    node: ast.AST  # the original node (for lines and the text before)
    replacement: ast.AST
    before: str
    after: str
    context: _Context


class _Walker:
    """Visits every node in a fixed order and counts each possible change; applies the
    ``target``-th one (if any) in place."""

    def __init__(self, target: int | None) -> None:
        self.target = target
        self.sites: list[_Site] = []
        self.applied: _Site | None = None

    def run(self, tree: ast.Module) -> None:
        self._children(tree, _Context())

    # --- the walk ----------------------------------------------------------------------

    def _children(self, node: ast.AST, context: _Context) -> bool:
        for name, value in ast.iter_fields(node):
            if not self._field_is_visited(node, name):
                continue
            child_context = self._field_context(node, name, context)
            if isinstance(value, list):
                for i, child in enumerate(value):
                    if isinstance(child, ast.AST):
                        last = i == len(value) - 1
                        here = child_context
                        if i == 0 and name == "args" and isinstance(node, ast.Call):
                            here = _replace(here, regex=_is_re_call(node))
                        if name == "body" and isinstance(node, ast.Module | ast.ClassDef):
                            bound = bound_names(child)
                            if isinstance(node, ast.ClassDef):
                                bound = bound or (node.name,)
                            here = _replace(here, names=bound)
                        if self._visit(child, here, _list_setter(value, i), last):
                            return True
            elif isinstance(value, ast.AST) and self._visit(
                value, child_context, _attr_setter(node, name), True
            ):
                return True
        return False

    def _visit(
        self, node: ast.AST, context: _Context, put: Callable[[ast.AST], None], last: bool
    ) -> bool:
        if isinstance(node, ast.Import | ast.ImportFrom):
            return False
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return False  # a docstring, or a string that documents the line above
        context = self._node_context(node, context)
        if isinstance(node, ast.stmt):
            context = _replace(context, statement=node.lineno)
        for operator, replacement, before, after in _candidates(node, context, last):
            site = _Site(operator, node, replacement, before, after, context)
            if len(self.sites) == self.target:
                ast.copy_location(replacement, node)
                put(replacement)
                self.applied = site
                self.sites.append(site)
                return True
            self.sites.append(site)
        return self._children(node, context)

    @staticmethod
    def _field_is_visited(node: ast.AST, name: str) -> bool:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return name not in ("returns", "type_comment")
        if isinstance(node, ast.arg):
            return name != "annotation"
        if isinstance(node, ast.AnnAssign):
            return name == "value"
        return True

    @staticmethod
    def _field_context(node: ast.AST, name: str, context: _Context) -> _Context:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and name == "body":
            return _replace(context, scope=(*context.scope, node.name), in_function=True)
        if isinstance(node, ast.ClassDef) and name == "body":
            return _replace(context, scope=(*context.scope, node.name))
        if isinstance(node, ast.Lambda) and name == "body":
            return context
        if isinstance(node, ast.FormattedValue) and name == "format_spec":
            return _replace(context, format_spec=True)
        if isinstance(node, ast.Subscript) and name == "slice":
            return _replace(context, subscript=True, regex=False)
        return _replace(context, regex=False)

    @staticmethod
    def _node_context(node: ast.AST, context: _Context) -> _Context:
        if isinstance(node, ast.Raise) or (isinstance(node, ast.Call) and _is_prose_call(node)):
            return _replace(context, prose=True)
        return context


def _replace(context: _Context, **changes: object) -> _Context:
    fresh = copy.copy(context)
    for key, value in changes.items():
        setattr(fresh, key, value)
    return fresh


def _list_setter(values: list[object], index: int) -> Callable[[ast.AST], None]:
    def put(new: ast.AST) -> None:
        values[index] = new

    return put


def _attr_setter(node: ast.AST, name: str) -> Callable[[ast.AST], None]:
    def put(new: ast.AST) -> None:
        setattr(node, name, new)

    return put


def bound_names(statement: ast.AST) -> tuple[str, ...]:
    """The names a module or class level statement binds (none for other statements)."""
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return (statement.name,)
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
        targets = [statement.target]
    names: list[str] = []
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                names.append(node.id)
    return tuple(names)


def _is_re_call(node: ast.Call) -> bool:
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "re"
        and func.attr in _RE_FUNCTIONS
    )


def _is_prose_call(node: ast.Call) -> bool:
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "append"
        and isinstance(func.value, ast.Name)
        and func.value.id in _PROSE_LISTS
    )


# --- the operators ---------------------------------------------------------------------------

Candidate = tuple[str, ast.AST, str, str]


def _candidates(node: ast.AST, context: _Context, last: bool) -> Iterator[Candidate]:
    if isinstance(node, ast.Compare):
        yield from _compare(node)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP:
        binop = copy.deepcopy(node)
        binop.op = _BINOP[type(node.op)]()
        yield "binop", binop, _text(node), _text(binop)
    elif isinstance(node, ast.BoolOp):
        boolop = copy.deepcopy(node)
        boolop.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield "boolop", boolop, _text(node), _text(boolop)
    elif isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not) or (
            isinstance(node.op, ast.USub) and not isinstance(node.operand, ast.Constant)
        ):
            operand = copy.deepcopy(node.operand)
            yield "unary", operand, _text(node), _text(operand)
    elif isinstance(node, ast.Constant):
        yield from _constant(node, context)
    elif isinstance(node, ast.Tuple | ast.List | ast.Set) and not isinstance(
        getattr(node, "ctx", ast.Load()), ast.Store | ast.Del
    ):
        yield from _sequence(node, context)
    elif isinstance(node, ast.Dict):
        yield from _mapping(node)
    elif isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in _CALLS:
            call = copy.deepcopy(node)
            call.func = ast.Name(id=_CALLS[func.id], ctx=ast.Load())
            yield "call", call, _text(node), _text(call)
    elif isinstance(node, ast.IfExp) and _plain(node.test):
        ifexp = copy.deepcopy(node)
        ifexp.test = ast.UnaryOp(op=ast.Not(), operand=ifexp.test)
        yield "negate", ifexp, _text(node), _text(ifexp)

    if isinstance(node, ast.AugAssign) and type(node.op) in _BINOP:
        new_aug = copy.deepcopy(node)
        new_aug.op = _BINOP[type(node.op)]()
        yield "binop", new_aug, _text(node), _text(new_aug)
    if isinstance(node, ast.If) and _plain(node.test):
        new_if = copy.deepcopy(node)
        new_if.test = ast.UnaryOp(op=ast.Not(), operand=new_if.test)
        yield "negate", new_if, _first_line(node), _first_line(new_if)
    if context.in_function and _deletable(node, last):
        yield "delete", ast.Pass(), _first_line(node), "pass"
    if isinstance(node, ast.FunctionDef) and _returns_none(node):
        new_def = copy.deepcopy(node)
        at = 1 if _has_docstring(node) else 0
        new_def.body.insert(at, ast.Return(value=None))
        yield "return", new_def, f"def {node.name}(...)", f"def {node.name}(...): return"


def _compare(node: ast.Compare) -> Iterator[Candidate]:
    for i, op in enumerate(node.ops):
        for other in _COMPARE.get(type(op), ()):
            new = copy.deepcopy(node)
            new.ops[i] = other()
            yield "compare", new, _text(node), _text(new)


def _constant(node: ast.Constant, context: _Context) -> Iterator[Candidate]:
    value = node.value
    if isinstance(value, bool):
        yield "bool", ast.Constant(not value), repr(value), repr(not value)
    elif isinstance(value, int):
        for other in (value + 1, value - 1):
            yield "number", ast.Constant(other), repr(value), repr(other)
    elif isinstance(value, float):
        yield "number", ast.Constant(value + 1.0), repr(value), repr(value + 1.0)
    elif isinstance(value, str):
        if context.regex:
            for mutated in regex_mutations(value):
                yield "regex", ast.Constant(mutated), *_window(value, mutated)
        elif not (context.prose or context.format_spec):
            text = "" if value else "XX"
            yield "string", ast.Constant(text), repr(value), repr(text)
    elif isinstance(value, bytes) and not context.prose:
        other_bytes = b"" if value else b"XX"
        yield "string", ast.Constant(other_bytes), repr(value), repr(other_bytes)


def _sequence(node: ast.Tuple | ast.List | ast.Set, context: _Context) -> Iterator[Candidate]:
    """Drops and swaps of a literal's members: constants anywhere; names too outside
    functions, where a literal is data (``FALLBACKS = (JPEG, WEBP, PNG, AVIF)``), not a
    tuple of values on their way somewhere."""

    def member(elt: ast.expr) -> bool:
        data = isinstance(elt, ast.Name | ast.Attribute) and not context.in_function
        return isinstance(elt, ast.Constant) or data

    def differ(a: ast.expr, b: ast.expr) -> bool:
        if isinstance(a, ast.Constant) and isinstance(b, ast.Constant):
            return bool(a.value != b.value)
        return ast.dump(a) != ast.dump(b)

    if context.subscript:
        return  # a type's parameters (tuple[int, int]), not data

    elts = node.elts
    if len(elts) >= 2:
        for i, elt in enumerate(elts):
            if member(elt):
                new = copy.deepcopy(node)
                del new.elts[i]
                yield "drop", new, _text(node), _text(new)
    if isinstance(node, ast.Tuple | ast.List) and 2 <= len(elts) <= _SWAP_MAX_LEN:
        for i in range(len(elts) - 1):
            a, b = elts[i], elts[i + 1]
            if member(a) and member(b) and differ(a, b):
                new = copy.deepcopy(node)
                new.elts[i], new.elts[i + 1] = new.elts[i + 1], new.elts[i]
                yield "swap", new, _text(node), _text(new)


def _mapping(node: ast.Dict) -> Iterator[Candidate]:
    if len(node.keys) < 2:
        return
    for i, key in enumerate(node.keys):
        if isinstance(key, ast.Constant):
            new = copy.deepcopy(node)
            del new.keys[i]
            del new.values[i]
            yield "drop", new, _text(node), _text(new)


def _plain(test: ast.expr) -> bool:
    return isinstance(test, ast.Name | ast.Attribute | ast.Call | ast.Subscript)


def _deletable(node: ast.AST, last: bool) -> bool:
    if isinstance(node, ast.Return):
        return not last  # an early return: the code after it runs instead
    if isinstance(node, ast.Expr):
        return isinstance(node.value, ast.Call)
    if isinstance(node, ast.AnnAssign):
        return node.value is not None
    return isinstance(node, _DELETABLE)


def _returns_none(node: ast.FunctionDef) -> bool:
    returns = node.returns
    return (isinstance(returns, ast.Constant) and returns.value is None) or (
        isinstance(returns, ast.Name) and returns.id == "None"
    )


def _has_docstring(node: ast.FunctionDef) -> bool:
    first = node.body[0]
    return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)


def _window(before: str, after: str, context: int = 12) -> tuple[str, str]:
    """The two patterns around where they differ (a pattern may be long)."""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while end < min(len(before), len(after)) - start and before[-1 - end] == after[-1 - end]:
        end += 1
    lo = max(0, start - context)

    def cut(text: str) -> str:
        hi = min(len(text), len(text) - end + context)
        return ("..." if lo else "") + repr(text[lo:hi])[1:-1] + ("..." if hi < len(text) else "")

    return f"r'{cut(before)}'", f"r'{cut(after)}'"


def _text(node: ast.AST) -> str:
    return " ".join(ast.unparse(node).split())


def _first_line(node: ast.AST) -> str:
    text = ast.unparse(node).splitlines()[0].strip()
    return text if len(text) <= 100 else text[:97] + "..."


# --- regular expressions -----------------------------------------------------------------------

Edit = tuple[int, int, str]  # replace pattern[start:end] with the text


def regex_mutations(pattern: str) -> list[str]:
    """Patterns that differ from ``pattern`` by one small edit and still compile."""
    out: list[str] = []
    for start, end, replacement in _regex_edits(pattern):
        mutated = pattern[:start] + replacement + pattern[end:]
        if mutated == pattern or mutated in out:
            continue
        try:
            re.compile(mutated)
        except re.error:
            continue
        out.append(mutated)
    return out


def _regex_edits(p: str) -> Iterator[Edit]:
    groups: list[tuple[int, list[int]]] = [(0, [])]  # (content start, '|' positions)
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
            i = yield from _quantifier(p, i)
        elif c == "[":
            end = yield from _char_class(p, i)
            i = yield from _quantifier(p, end)
        elif c == "(":
            i += 1
            if p.startswith("?P<", i):
                i = p.index(">", i) + 1
            elif p.startswith(("?:", "?=", "?!"), i):
                i += 2
            elif p.startswith(("?<=", "?<!"), i):
                i += 3
            groups.append((i, []))
        elif c == ")":
            start, bars = groups.pop()
            yield from _alternatives(start, bars, i)
            i = yield from _quantifier(p, i + 1)
        elif c == "|":
            groups[-1][1].append(i)
            i += 1
        elif c in "^$":
            yield i, i + 1, ""
            i += 1
        else:
            i = yield from _quantifier(p, i + 1)
    start, bars = groups[0]
    yield from _alternatives(start, bars, len(p))


def _alternatives(start: int, bars: list[int], end: int) -> Iterator[Edit]:
    if not bars:
        return
    edges = [start - 1, *bars, end]
    for k in range(len(edges) - 1):
        lo, hi = edges[k], edges[k + 1]
        if k == 0:
            yield start, hi + 1, ""  # the first alternative and the '|' after it
        else:
            yield lo, hi, ""  # the '|' before it and the alternative


def _quantifier(p: str, i: int) -> Generator[Edit, None, int]:
    """Edits of the quantifier at ``i`` (if any); the index after it."""
    if i >= len(p):
        return i
    c = p[i]
    if c == "?":
        yield i, i + 1, ""
        return i + 1 + (p.startswith("?", i + 1))
    if c in "*+":
        yield i, i + 1, "+" if c == "*" else "*"
        return i + 1 + (p.startswith("?", i + 1))
    bounds = re.match(r"\{(\d*)(,?)(\d*)\}", p[i:])
    if bounds is None:
        return i
    for group in (1, 3):
        digits = bounds[group]
        if digits:
            s, e = i + bounds.start(group), i + bounds.end(group)
            value = int(digits)
            for other in (value + 1, value - 1):
                if other >= 0:
                    yield s, e, str(other)
    return i + bounds.end()


def _char_class(p: str, i: int) -> Generator[Edit, None, int]:
    """Edits of the class that opens at ``i``; the index after its ']'."""
    j = i + 1
    if p.startswith("^", j):
        j += 1
    members: list[tuple[int, int]] = []
    first = True
    while j < len(p) and (p[j] != "]" or first):
        first = False
        start = j
        j += 2 if p[j] == "\\" else 1
        if p.startswith("-", j) and j + 1 < len(p) and p[j + 1] != "]":
            j += 1
            j += 2 if p[j] == "\\" else 1
            lo, hi = p[start], p[j - 1]
            if lo.isalnum() and hi.isalnum():
                yield from _range_ends(start, j - 1, lo, hi)
        members.append((start, j))
    if len(members) >= 2:
        for start, end in members:
            yield start, end, ""
    return j + 1


def _range_ends(lo_at: int, hi_at: int, lo: str, hi: str) -> Iterator[Edit]:
    for at, char in ((lo_at, lo), (hi_at, hi)):
        for step in (1, -1):
            other = chr(ord(char) + step)
            new_lo, new_hi = (other, hi) if at == lo_at else (lo, other)
            if other.isalnum() and other.isascii() and new_lo <= new_hi:
                yield at, at + 1, other


# --- the public functions --------------------------------------------------------------------


def mutants(path: str, source: str) -> list[Mutant]:
    """Every mutant of ``source`` (the module at ``path``), in walk order."""
    walker = _Walker(None)
    walker.run(ast.parse(source))
    out: list[Mutant] = []
    seen: dict[tuple[str, ...], int] = {}
    for index, site in enumerate(walker.sites):
        node = site.node
        scope = ".".join(site.context.scope) or "<module>"
        if isinstance(node, ast.FunctionDef) and site.operator == "return":
            scope = ".".join((*site.context.scope, node.name))
            first = node.body[1 if _has_docstring(node) else 0]
            line, end_line = first.lineno, first.end_lineno or first.lineno
            in_function, first_line = True, line
        else:
            line = getattr(node, "lineno", 0)
            end_line = getattr(node, "end_lineno", None) or line
            in_function, first_line = site.context.in_function, site.context.statement or line
        key = (path, scope, site.operator, site.before, site.after)
        seen[key] = seen.get(key, -1) + 1
        digest = hashlib.sha256("\0".join((*key, str(seen[key]))).encode()).hexdigest()[:8]
        out.append(
            Mutant(
                path=path,
                index=index,
                operator=site.operator,
                line=line,
                end_line=end_line,
                scope=scope,
                in_function=in_function,
                names=site.context.names,
                first_line=first_line,
                before=site.before,
                after=site.after,
                ident=digest,
            )
        )
    return out


def mutate(source: str, index: int) -> str:
    """``source`` with its ``index``-th mutant applied, as Python source."""
    tree = ast.parse(source)
    walker = _Walker(index)
    walker.run(tree)
    if walker.applied is None:
        raise IndexError(f"no mutant {index}")
    return ast.unparse(ast.fix_missing_locations(tree))


def unparsed(source: str) -> str:
    """``source`` as ``mutate`` writes it, without a change: to check that ``ast.unparse``
    alone changes nothing a test can see."""
    return ast.unparse(ast.parse(source))
