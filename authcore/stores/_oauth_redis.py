"""Redis OAuth stores: clients, and grants (artefacts and families) applied by one Lua script.

Key names (``prefix`` defaults to ``"authcore:"``; ``<family>`` is the family id with ``%``,
``{`` and ``}`` percent-escaped, so it is always the whole hash tag):

==========================================  ================================================
``<prefix>oauth:client:<client id>``        client registration (string), no TTL
``<prefix>oauth:d:<digest>``                index: the family id of the artefact ``digest``
                                            (string), TTL as the artefact's
``<prefix>oauth:{<family>}:r:<digest>``     an artefact (hash: kind, version, JSON), TTL =
                                            its lifetime + ``retain``
``<prefix>oauth:{<family>}:f``              a family (hash: version, revoked, JSON), TTL =
                                            its lifetime + ``retain`` (a revoked tombstone:
                                            ``retain``)
==========================================  ================================================

:meth:`RedisGrantStore.apply` checks every precondition and makes every write in one Lua
script over the keys of one family, which share the ``{<family>}`` hash tag: one Cluster
slot, and atomic on the server.  An artefact is found by digest alone through its index key
(another slot); index keys are written first, with ``SET NX GET``, so an index without its
artefact (a failed apply) reads as absent, and a digest already indexed to another family is
a conflict.  Lifetimes are relative (``expires_at`` minus the record's ``issued_at``), so the
caller's clock never shortens a server-side TTL.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final, Protocol, cast

from authcore._encoding import json_dumps
from authcore._options import seconds_option
from authcore.errors import ConfigurationError, StoreError
from authcore.oauth import (
    Artefact,
    ClientRecord,
    Effect,
    Family,
    Insert,
    RevokeFamily,
    SaveFamily,
    Update,
    decode_client,
    decode_family,
    decode_record,
    encode_client,
    encode_family,
    encode_record,
    record_kind,
)
from authcore.stores._oauth_memory import revoked_family
from authcore.stores._redis_common import check_prefix, translated

if TYPE_CHECKING:
    from collections.abc import Sequence

    from authcore.stores.redis import AsyncRedisClient, RedisClient

__all__ = [
    "AsyncRedisClientStore",
    "AsyncRedisGrantStore",
    "RedisClientStore",
    "RedisGrantStore",
]

_DEFAULT_RETAIN: Final = 86_400.0
_MAX_RETAIN: Final = 10 * 365 * 86_400.0

# KEYS: one per operation (an artefact hash or a family hash).  ARGV[1]: JSON list of
# operations {t = "i" insert | "u" update | "s" save family | "r" revoke family, ...}.
# Every operation is decided on an overlay of what the earlier ones wrote; the first failed
# precondition returns 0 before anything is written.  Returns 1 when everything was written.
_APPLY_LUA: Final = """
local ops = cjson.decode(ARGV[1])
local seen = {}
local function current(key, fields)
  if seen[key] ~= nil then
    return seen[key]
  end
  local got = redis.call('HMGET', key, unpack(fields))
  if got[1] == false then
    seen[key] = false
  else
    local row = {}
    for i, name in ipairs(fields) do
      row[name] = got[i]
    end
    seen[key] = row
  end
  return seen[key]
end
local writes = {}
for i, op in ipairs(ops) do
  local key = KEYS[i]
  if op.t == 'i' then
    if current(key, {'v', 'k', 'd'}) then
      return 0
    end
    seen[key] = {v = op.v, k = op.k, d = op.d}
    writes[#writes + 1] = {key, {'v', op.v, 'k', op.k, 'd', op.d}, op.x}
  elseif op.t == 'u' then
    local row = current(key, {'v', 'k', 'd'})
    if not row or tonumber(row.v) ~= op.e or row.k ~= op.k then
      return 0
    end
    seen[key] = {v = op.v, k = op.k, d = op.d}
    writes[#writes + 1] = {key, {'v', op.v, 'k', op.k, 'd', op.d}, op.x}
  elseif op.t == 's' then
    local row = current(key, {'v', 'r', 'd'})
    if op.e == -1 then
      if row then
        return 0
      end
    elseif not row or tonumber(row.v) ~= op.e then
      return 0
    end
    seen[key] = {v = op.v, r = op.r, d = op.d}
    writes[#writes + 1] = {key, {'v', op.v, 'r', op.r, 'd', op.d}, op.x}
  else
    local row = current(key, {'v', 'r', 'd'})
    if row then
      seen[key] = {v = tonumber(row.v) + 1, r = 1, d = row.d}
      writes[#writes + 1] = {key, {'v', tonumber(row.v) + 1, 'r', 1, 'd', row.d}, 0}
    else
      seen[key] = {v = 1, r = 1, d = op.d}
      writes[#writes + 1] = {key, {'v', 1, 'r', 1, 'd', op.d}, op.x}
    end
  end
end
for _, w in ipairs(writes) do
  redis.call('HSET', w[1], unpack(w[2]))
  if w[3] > 0 then
    redis.call('PEXPIRE', w[1], w[3])
  end
end
return 1
"""


def _tag(family_id: str) -> str:
    """The family id as a hash tag body: no braces, reversible (``%`` escaped first)."""
    return family_id.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _start(record: Artefact) -> float | None:
    """When a record's lifetime began, if it says."""
    issued = getattr(record, "issued_at", None)
    return float(issued) if isinstance(issued, (int, float)) else None


def _ttl_ms(expires_at: float, start: float | None, retain: float) -> int:
    """Milliseconds to keep a key: its lifetime from ``start`` (if known) plus ``retain``."""
    life = max(0.0, expires_at - start) if start is not None else 0.0
    return max(1, int((life + retain) * 1000))


@dataclass(frozen=True, slots=True)
class _Plan:
    """One apply as Redis commands: index keys to claim first, then the script's input."""

    index: tuple[tuple[str, str, int, bool], ...]  # (key, family id, ttl ms, is an insert)
    keys: tuple[str, ...]
    argv: bytes


class _Keys:
    """Key names under one prefix, and the translation of effects into a :class:`_Plan`."""

    __slots__ = ("_base", "_retain")

    def __init__(self, prefix: str, retain: float) -> None:

        self._base = check_prefix(prefix) + "oauth:"
        self._retain = seconds_option(retain, "retain", high=_MAX_RETAIN)

    def client(self, client_id: str) -> str:
        return f"{self._base}client:{client_id}"

    def index(self, digest: str) -> str:
        return f"{self._base}d:{digest}"

    def record(self, family_id: str, digest: str) -> str:
        return f"{self._base}{{{_tag(family_id)}}}:r:{digest}"

    def family(self, family_id: str) -> str:
        return f"{self._base}{{{_tag(family_id)}}}:f"

    def plan(self, effects: Sequence[Effect]) -> _Plan:
        """The commands applying ``effects`` (every key of one family shares one slot)."""
        starts = [
            s
            for s in (_start(e.record) for e in effects if isinstance(e, (Insert, Update)))
            if s is not None
        ]
        fallback = min(starts) if starts else None
        index: list[tuple[str, str, int, bool]] = []
        keys: list[str] = []
        ops: list[dict[str, object]] = []
        for effect in effects:
            if isinstance(effect, (Insert, Update)):
                record = effect.record
                start = _start(record)
                ttl = _ttl_ms(record.expires_at, fallback if start is None else start, self._retain)
                is_insert = isinstance(effect, Insert)
                index.append((self.index(record.digest), record.family_id, ttl, is_insert))
                keys.append(self.record(record.family_id, record.digest))
                op: dict[str, object] = {
                    "t": "i" if is_insert else "u",
                    "k": record_kind(record),
                    "v": record.version,
                    "d": encode_record(record).decode(),
                    "x": ttl,
                }
                if isinstance(effect, Update):
                    op["e"] = effect.expected_version
                ops.append(op)
            elif isinstance(effect, SaveFamily):
                family = effect.family
                keys.append(self.family(family.family_id))
                ops.append(
                    {
                        "t": "s",
                        "e": -1 if effect.expected_version is None else effect.expected_version,
                        "v": family.version,
                        "r": int(family.revoked),
                        "d": encode_family(family).decode(),
                        "x": _ttl_ms(family.expires_at, family.created_at, self._retain),
                    }
                )
            elif isinstance(effect, RevokeFamily):
                tombstone = revoked_family(None, effect)
                keys.append(self.family(effect.family_id))
                ops.append(
                    {
                        "t": "r",
                        "d": encode_family(tombstone).decode(),
                        "x": _ttl_ms(tombstone.expires_at, tombstone.created_at, self._retain),
                    }
                )
            else:
                raise StoreError(f"unknown effect {type(effect).__name__}")
        return _Plan(tuple(index), tuple(keys), json_dumps(ops))


class _Pipeline(Protocol):
    """What :func:`_claim` queues on: a sync or asyncio (cluster) pipeline."""

    def set(self, name: str, value: str, *, nx: bool, get: bool, px: int) -> object: ...

    def pexpire(self, name: str, time: int, *, gt: bool) -> object: ...


def _claim(pipe: _Pipeline, plan: _Plan) -> None:
    """Queue the commands claiming the plan's index keys on ``pipe``.

    An inserted digest's index is set if absent (``SET NX GET``: the reply is the family it
    already named); an updated one's TTL only grows (``PEXPIRE GT``).
    """
    for key, family_id, ttl, is_insert in plan.index:
        if is_insert:
            pipe.set(key, family_id, nx=True, get=True, px=ttl)
        else:
            pipe.pexpire(key, ttl, gt=True)


def _claimed(plan: _Plan, replies: Sequence[object]) -> bool:
    """Whether every inserted digest's index is new or already points to its family."""
    for (_, family_id, _, is_insert), previous in zip(plan.index, replies, strict=True):
        if is_insert and previous is not None and _text(cast("bytes", previous)) != family_id:
            return False
    return True


def _family(raw: Sequence[object]) -> Family | None:
    """A family from ``HMGET v r d`` (the counters override the JSON's)."""
    version, revoked, data = raw
    if data is None:
        return None
    family = decode_family(cast("bytes", data))
    try:
        current = int(cast("bytes", version))
    except (TypeError, ValueError):
        raise StoreError("unreadable OAuth family version") from None
    is_revoked = _text(cast("bytes", revoked)) == "1" if revoked is not None else family.revoked
    if current != family.version or is_revoked != family.revoked:
        family = replace(family, version=current, revoked=is_revoked)
    return family


def _record(raw: Sequence[object]) -> Artefact | None:
    """An artefact from ``HMGET k d``."""
    kind, data = raw
    if kind is None or data is None:
        return None
    return decode_record(_text(cast("bytes", kind)), cast("bytes", data))


def _valid(value: object) -> bool:
    """Whether ``value`` is a str Redis can carry (else it cannot have been stored)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


class RedisClientStore:
    """A :class:`~authcore.oauth.ClientStore` in Redis (one ``GET`` per lookup).

    Args:
        client: A ``redis.Redis`` or ``redis.cluster.RedisCluster`` (see
            :func:`~authcore.stores.redis.connect`).
        prefix: Prepended to every key name (no braces).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_client", "_keys")

    def __init__(self, client: RedisClient, *, prefix: str = "authcore:") -> None:
        self._client = client
        self._keys = _Keys(prefix, _DEFAULT_RETAIN)

    def get(self, client_id: str) -> ClientRecord | None:
        """Return the client registered as ``client_id``, or ``None``."""
        if not _valid(client_id):
            return None
        with translated():
            data = self._client.get(self._keys.client(client_id))
        return None if data is None else decode_client(cast("bytes", data))

    def add(self, client: ClientRecord) -> None:
        """Register ``client`` (replacing a registration with the same id)."""
        if not isinstance(client, ClientRecord):
            raise ConfigurationError("expected a ClientRecord")
        with translated():
            self._client.set(self._keys.client(client.client_id), encode_client(client))


class RedisGrantStore:
    """A :class:`~authcore.oauth.GrantStore` in Redis, shared by every machine.

    :meth:`apply` is one Lua script over one family's keys (one hash slot), preceded, when
    it writes artefacts, by one pipelined round trip claiming their digest index keys:
    redeeming a code and rotating a refresh token are compare-and-set on the server, so of
    any number of concurrent attempts exactly one applies.  :meth:`get` is two round trips
    (the index, then the artefact).  Keys expire ``retain`` seconds after their record does
    (a revoked family's tombstone ``retain`` seconds after the revocation), so keep
    ``retain`` longer than any gap between a grant's last use and a replay you want caught.

    Args:
        client: A ``redis.Redis`` or ``redis.cluster.RedisCluster`` (see
            :func:`~authcore.stores.redis.connect`).
        prefix: Prepended to every key name (no braces).
        retain: Seconds to keep keys past their record's expiry.

    Raises:
        ConfigurationError: On an invalid prefix or ``retain``.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_apply", "_client", "_keys")

    def __init__(
        self, client: RedisClient, *, prefix: str = "authcore:", retain: float = _DEFAULT_RETAIN
    ) -> None:
        self._client = client
        self._keys = _Keys(prefix, retain)
        self._apply = client.register_script(_APPLY_LUA)

    def get(self, digest: str) -> Artefact | None:
        """Return the record stored under ``digest``, or ``None``."""
        if not _valid(digest):
            return None
        with translated():
            family_id = self._client.get(self._keys.index(digest))
            if family_id is None:
                return None
            key = self._keys.record(_text(cast("bytes", family_id)), digest)
            raw = self._client.hmget(key, ["k", "d"])
        return _record(cast("Sequence[object]", raw))

    def family(self, family_id: str) -> Family | None:
        """Return the family ``family_id``, or ``None``."""
        if not _valid(family_id):
            return None
        with translated():
            raw = self._client.hmget(self._keys.family(family_id), ["v", "r", "d"])
        return _family(cast("Sequence[object]", raw))

    def apply(self, effects: Sequence[Effect]) -> bool:
        """Apply every effect or none; ``False`` (nothing written) when a precondition fails.

        Raises:
            StoreError: If Redis fails (nothing was written by the script; an index key may
                remain, harmlessly, until it expires).
        """
        plan = self._keys.plan(effects)
        with translated():
            if plan.index:
                pipe = self._client.pipeline(transaction=False)
                _claim(pipe, plan)
                if not _claimed(plan, pipe.execute()):
                    return False
            if not plan.keys:
                return True
            return bool(self._apply(keys=list(plan.keys), args=[plan.argv]))

    def __repr__(self) -> str:
        return "RedisGrantStore()"


class AsyncRedisClientStore:
    """:class:`RedisClientStore` for ``redis.asyncio`` clients (same keys).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_client", "_keys")

    def __init__(self, client: AsyncRedisClient, *, prefix: str = "authcore:") -> None:
        self._client = client
        self._keys = _Keys(prefix, _DEFAULT_RETAIN)

    async def get(self, client_id: str) -> ClientRecord | None:
        """See :meth:`RedisClientStore.get`."""
        if not _valid(client_id):
            return None
        with translated():
            data = await self._client.get(self._keys.client(client_id))
        return None if data is None else decode_client(cast("bytes", data))

    async def add(self, client: ClientRecord) -> None:
        """See :meth:`RedisClientStore.add`."""
        if not isinstance(client, ClientRecord):
            raise ConfigurationError("expected a ClientRecord")
        with translated():
            await self._client.set(self._keys.client(client.client_id), encode_client(client))


class AsyncRedisGrantStore:
    """:class:`RedisGrantStore` for ``redis.asyncio`` clients (same keys, same script).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_apply", "_client", "_keys")

    def __init__(
        self,
        client: AsyncRedisClient,
        *,
        prefix: str = "authcore:",
        retain: float = _DEFAULT_RETAIN,
    ) -> None:
        self._client = client
        self._keys = _Keys(prefix, retain)
        self._apply = client.register_script(_APPLY_LUA)

    async def get(self, digest: str) -> Artefact | None:
        """See :meth:`RedisGrantStore.get`."""
        if not _valid(digest):
            return None
        with translated():
            family_id = await self._client.get(self._keys.index(digest))
            if family_id is None:
                return None
            key = self._keys.record(_text(cast("bytes", family_id)), digest)
            raw = await self._client.hmget(key, ["k", "d"])
        return _record(cast("Sequence[object]", raw))

    async def family(self, family_id: str) -> Family | None:
        """See :meth:`RedisGrantStore.family`."""
        if not _valid(family_id):
            return None
        with translated():
            raw = await self._client.hmget(self._keys.family(family_id), ["v", "r", "d"])
        return _family(cast("Sequence[object]", raw))

    async def apply(self, effects: Sequence[Effect]) -> bool:
        """See :meth:`RedisGrantStore.apply`."""
        plan = self._keys.plan(effects)
        with translated():
            if plan.index:
                pipe = self._client.pipeline(transaction=False)
                _claim(pipe, plan)
                if not _claimed(plan, await pipe.execute()):
                    return False
            if not plan.keys:
                return True
            return bool(await self._apply(keys=list(plan.keys), args=[plan.argv]))
