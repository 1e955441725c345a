"""A string that never shows itself."""

from __future__ import annotations


class Secret:
    """Holds an API key or webhook secret; ``repr``/``str``/format only ever show ``'***'``.

    Call :meth:`reveal` at the single place the value is sent on the wire.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("a secret must not be empty")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, format_spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):  # pickling would write the value out in clear
        raise TypeError("Secret cannot be pickled")
