"""`Registry`: things pf knows by name (methods, exit rules), built in or added by plug-ins."""

from __future__ import annotations

from typing import Generic, TypeVar

from pf.errors import PfError, unknown

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    """name -> item, in registration order; every item has a `name`."""

    def __init__(self, kind: str, item_type: type):
        super().__init__()
        self.kind = kind
        self.item_type = item_type

    def register(self, item: T) -> T:
        """Add `item`; PfError if it is of the wrong type or its name is taken by another
        (registering the same item again, as a re-imported plug-in does, changes nothing)."""
        if not isinstance(item, self.item_type):
            raise PfError(f"a {self.kind} to register must be a {self.item_type.__name__}, got "
                          f"{type(item).__name__}")
        existing = self.get(item.name)
        if existing is not None and existing != item:
            raise PfError(f"{self.kind} '{item.name}' is registered twice; choose another name")
        self[item.name] = item
        return item

    def lookup(self, name: str) -> T:
        """The item registered as `name` (PfError with a suggestion if unknown)."""
        if name not in self:
            raise unknown(self.kind, name, self)
        return self[name]
