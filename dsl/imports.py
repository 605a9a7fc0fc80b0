"""``import "world.corrigo"``: sharing a world between specs.

An import stands for the declarations of the imported file, in its place, as if written there: its
constants, params, variables, maps, tables, formulas, actions, events, terms and policies, and what it
imports in turn. Its ``model`` header and its checks stay behind (a world file can be a spec of its own,
with checks about it); a ``discount`` or ``horizon`` of the importing file replaces the imported one.
The path is relative to the importing file (to the working directory for a spec given as text). A file
imported twice, directly or not, is read once; a cycle is an error at the import that closes it.
Diagnostics in an imported file point into it: the resulting :class:`~dsl.errors.Source` carries every
imported file's text.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

from . import syntax as S
from .errors import Diagnostic, Source, SpecError, SpecSyntaxError

__all__ = ["with_imports"]


def with_imports(module: S.Module, source: Source, read: Callable[[str], Source],
                 parse: Callable[[str, str], S.Module]) -> tuple[S.Module, Source]:
    """``module`` with every import replaced by the imported declarations, and ``source`` with their texts.

    ``read`` reads a file (raising :class:`SpecError` without a location if it cannot); ``parse`` parses one.
    """
    if not any(isinstance(d, S.Import) for d in module.declarations):
        return module, source
    sources: dict[str, Source] = {}
    declarations = _expand(module, source, (source.path,), sources, read, parse)
    own = {type(d) for d in module.declarations if isinstance(d, (S.Discount, S.Horizon))}
    declarations = [d for d in declarations if not (type(d) in own and d.span is not None
                                                    and d.span.path != source.path)]
    return replace(module, declarations=tuple(declarations)), replace(source, imported=tuple(sources.values()))


def _expand(module: S.Module, source: Source, chain: tuple[str, ...], sources: dict[str, Source],
            read: Callable[[str], Source], parse: Callable[[str, str], S.Module]) -> list[S.Declaration]:
    out: list[S.Declaration] = []
    for declaration in module.declarations:
        if not isinstance(declaration, S.Import):
            if len(chain) == 1 or not isinstance(declaration, S.Check):
                out.append(declaration)
            continue
        base = os.path.dirname(source.path) if source.path != "<string>" else ""
        path = os.path.normpath(os.path.join(base, declaration.path))
        if path in chain:
            cycle = " -> ".join((*chain[chain.index(path):], path))
            raise SpecSyntaxError(Diagnostic(f"import cycle: {cycle}", declaration.path_span,
                                             hint="move what both files need into a third and import it from both"),
                                  source)
        if path in sources:
            continue
        try:
            imported = read(path)
        except SpecError as error:
            first = error.diagnostics[0]
            raise SpecSyntaxError(Diagnostic(f"cannot import '{declaration.path}': {first.message}",
                                             declaration.path_span, hint=first.hint or
                                             "the path is relative to the importing file's folder"), source) from None
        sources[path] = imported
        out.extend(_expand(parse(imported.text, path), imported, (*chain, path), sources, read, parse))
    return out
