"""YAML from files the agent does not control, at a cost bounded by the file's size.

A YAML file a few hundred bytes long can still cost without end: aliases that refer to
aliases ("billion laughs") make a document of 10^9 nodes out of 30 lines once anything walks
it, an alias inside the node it names makes one that never ends, and 5,000 nested `[` make
the composer recurse past Python's stack. PyYAML bounds none of these, so the loader here
(a subclass of whichever SafeLoader the reader uses) counts as it composes: nesting deeper
than MAX_DEPTH, a document of more than MAX_NODES nodes once its aliases are expanded, or an
alias to a node that contains it are refused with the reason, as a ValueError. Netplan
configuration and ansible inventories need none of these at any real size.

Imported only by readers that already pay for PyYAML.
"""

from typing import Any, Dict, List, Optional

import yaml

MAX_DEPTH = 64
MAX_NODES = 200000
# PyYAML in pure Python (libyaml's C parser cannot be bounded this way, and the single-file
# agent has no C extensions) costs more than linear time on some inputs: 3.5 s for 64 KiB of
# `a:\n ` lines. A netplan file is a few KiB; a large one with hundreds of VLANs, tens.
MAX_BYTES = 64 * 1024


class Refused(ValueError):
    """A YAML document refused for its cost; the message says which bound and where."""


_BOUNDED: Dict[Any, Any] = {}  # base loader -> its bounded subclass


def loader(base: Any = yaml.SafeLoader) -> Any:
    """`base` (a SafeLoader or a subclass) with its composer bounded."""
    if base not in _BOUNDED:

        class Bounded(base):
            def __init__(self, stream: Any) -> None:
                super().__init__(stream)
                self.bounded_depth = 0
                self.bounded_weights = {}  # type: Dict[int, int]

            def compose_document(self) -> Any:
                try:
                    return super().compose_document()
                finally:
                    self.bounded_weights = {}

            def compose_node(self, parent: Any, index: Any) -> Any:
                if self.check_event(yaml.AliasEvent):
                    node = self.anchors.get(self.peek_event().anchor)
                    if node is not None and id(node) not in self.bounded_weights:
                        raise _refuse("an alias inside the node it refers to", self.peek_event())
                    return super().compose_node(parent, index)  # an undefined one: its error
                start = self.peek_event()
                self.bounded_depth += 1
                if self.bounded_depth > MAX_DEPTH:
                    raise _refuse(f"nested deeper than {MAX_DEPTH} levels", start)
                try:
                    node = super().compose_node(parent, index)
                finally:
                    self.bounded_depth -= 1
                weight = 1 + sum(self.bounded_weights[id(child)] for child in _children(node))
                if weight > MAX_NODES:
                    raise _refuse(f"more than {MAX_NODES} nodes with its aliases expanded", start)
                self.bounded_weights[id(node)] = weight
                return node

        Bounded.__name__ = "Bounded" + base.__name__
        _BOUNDED[base] = Bounded
    return _BOUNDED[base]


def load(text: str, base: Any = yaml.SafeLoader, max_bytes: int = MAX_BYTES) -> Any:
    """One YAML document, composed within the bounds; Refused (a ValueError) past them,
    yaml.YAMLError if it is not YAML. The loader is a SafeLoader subclass: no objects."""
    if len(text) > max_bytes:
        raise Refused(f"refused, YAML of more than {max_bytes // 1024} KiB")
    return yaml.load(text, Loader=loader(base))


def _children(node: Any) -> List[Any]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _refuse(what: str, event: Optional[Any]) -> Refused:
    mark = getattr(event, "start_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return Refused(f"refused, YAML {what}{where}")
