"""Which originals bucket holds a key: ``originals_buckets`` maps key prefixes to buckets,
and a key that matches no prefix is in the default originals bucket (the deployment's).

The prefix stays part of the object key: ``products/shoe.jpg`` with
``"products/" = "acme-products"`` is the object ``products/shoe.jpg`` of ``acme-products``.
So a source key is the same string in the URL, in the bucket, in the derivatives' keys and
in the invalidation paths, whichever bucket holds it. The longest matching prefix wins.

An object is an original only in the bucket its key maps to: ``avatars/me.png`` in
``acme-products`` is not one (it is never served, so it has nothing to purge or render).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class OriginalsBuckets:
    default: str
    by_prefix: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def bucket_of(self, key: str) -> str:
        """The bucket that holds ``key``: its longest mapped prefix's, else the default."""
        prefixes = [prefix for prefix in self.by_prefix if key.startswith(prefix)]
        return self.by_prefix[max(prefixes, key=len)] if prefixes else self.default

    def holds(self, bucket: str, key: str) -> bool:
        """Whether the object ``key`` of ``bucket`` is an original."""
        return self.bucket_of(key) == bucket

    @property
    def buckets(self) -> tuple[str, ...]:
        """Every originals bucket, the default first, each once."""
        return tuple(dict.fromkeys([self.default, *self.by_prefix.values()]))

    def listings(self, prefix: str = "") -> list[tuple[str, str]]:
        """(bucket, prefix) pairs whose listings, filtered with ``holds``, are every
        original under ``prefix``: the default bucket under ``prefix``, and each mapped
        bucket under the longer of ``prefix`` and its mapped prefix where one extends the
        other."""
        found = [(self.default, prefix)]
        for mapped, bucket in self.by_prefix.items():
            if prefix.startswith(mapped):
                found.append((bucket, prefix))
            elif mapped.startswith(prefix):
                found.append((bucket, mapped))
        return list(dict.fromkeys(found))
