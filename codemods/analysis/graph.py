"""The value graph's data: keys, typed facts and operations, one module's `Graph` (picklable).

Every value the migration may rewrite gets a key: a variable (`v:<scope>:<name>`), a parameter or
return of an in-tree function (`p:<qualname>:<param>`, `r:<qualname>`), an instance attribute
(`a:<class>:<attr>`), or one expression (`s:<module>:<n>:<tag>`, `n` counting in walk order, so the
facts pass and the migration of the same text name the same expressions). Children: `[]` an element
(or a dict key), `{v}` a dict value, `(i)` a tuple item, `.result` what a future yields.

Facts attach to keys: what a value is (a record, a store, a manager, a list ...), how it is used, and
why it cannot migrate. Operations are resolved once the whole tree is known (calls bind arguments to
parameters; a producer call makes records only if its receiver turns out to be a store).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Union


class K:
    """Fact kinds."""

    REC = "rec"  # a legacy record (PolicyRecord, MockPolicyRecord, a half-state PolicyWrapper)
    STORE = "store"  # a PolicyStore
    SSTORE = "sstore"  # a SimplePolicyStore (half state)
    MGR = "mgr"  # a SimpleCheckpointManager (half state)
    LIST, DICT = "list", "dict"  # containers (their elements are children)
    TYPE = "type"  # `type:<qualname>`: an instance of a first-party class
    USE = "use"  # a record attribute read that has a counterpart (reason: the attribute)
    BLOCK = "block"  # `block:<rule>`: a site that cannot migrate, reported by <rule> (reason: the manual reason)
    RBLOCK = "rblock"  # a record use without counterpart
    ESC = "esc"  # the value leaves what the tool can follow
    UNK = "unk"  # a value of unknown origin joins here
    ATTR = "attr"  # another attribute read (judged by kind in the solution)
    MOCK = "mock"  # a test double (MagicMock, ...)
    DISPATCH = "dispatch"  # the function tells records from other values itself (isinstance)
    TSTATE = "tstate"  # the trainer-state dict a manager's load_trainer_state() returns
    META = "meta"  # a PolicyMetadata(...) value
    SINK = "sink"  # the value goes into code that stays legacy (a legacy module's function, a store's method)
    MEMBER = "member"  # a site that changes when its unit migrates (an annotation, an attribute read)
    ORIGIN = "origin"  # a parameter (site: its node), in case nothing in the project calls its function
    RET = "ret"  # a `return` of a function (reason: its qualname), in case it is called from where nothing shows


STORES = (K.STORE, K.SSTORE)
SUPER = "super:"  # `type:super:<class>`: the value of super() in a method of <class> (its bases' methods)
PATH_TAG = "path:"  # reason prefix of a record fact that is already a tinyckpt path (not legacy)


class Fact(NamedTuple):
    key: str
    kind: str
    reason: str = ""
    site: str = ""  # the expression (site key) the fact is about, when it has one


class ArgSpec(NamedTuple):
    keyword: str  # "" positional, "*" starred, else the keyword
    key: str  # the argument value's key ("" when it is not followed)
    site: str  # the Arg's site key


class ChildOp(NamedTuple):
    key: str
    label: str
    child: str


class CallOp(NamedTuple):
    callee: str
    args: tuple[ArgSpec, ...]
    result: str
    bound: bool
    site: str


class MethodCallOp(NamedTuple):
    receiver: str
    attr: str
    args: tuple[ArgSpec, ...]
    result: str
    site: str
    manager_problem: str | None = None  # why it has no counterpart if the receiver is a SimpleCheckpointManager
    upload: bool = False  # a decided wandb upload statement (TCK-M107): it goes if the receiver is a store


def block(rule: str) -> str:
    """The fact kind of a site that keeps its unit legacy, reported as manual by `rule`."""
    return f"{K.BLOCK}:{rule}"


def render(reason: str, half: bool) -> str:
    """A reason as a person reads it, worded for the half state's PolicyWrapper where that differs."""
    if not reason.startswith("@"):
        return reason
    code, _, rest = reason[1:].partition(":")
    if code == "assign":
        return f"assigns PolicyWrapper.{rest}; a checkpoint path has no attributes" if half else \
            f"assigns .{rest} on a record; decide how this checkpoint is written"
    if code == "metadata":
        shown, _, suffix = rest.rpartition(":")
        return f"PolicyWrapper.{suffix} has no tinyckpt counterpart (a checkpoint path carries only run name and epoch); " \
               "decide" if half else f"{shown}: only the run name and epoch are in a checkpoint path; decide where this " \
                                     "value comes from"
    if code == "attr":
        return f"PolicyWrapper.{rest} has no tinyckpt counterpart (a checkpoint path carries only run name and epoch); " \
               "decide" if half else f".{rest}: not a record attribute with a tinyckpt counterpart"
    return reason


class ProducerOp(NamedTuple):
    """`<receiver>.<method>(...)` that makes records when the receiver is a store of the right kind."""

    key: str
    receiver: str
    method: str
    site: str
    full_problem: str | None  # why it has no counterpart as a PolicyStore call (None: it has one)
    half_problem: str | None  # ... as a SimplePolicyStore call


class StoreCallOp(NamedTuple):
    """A store method with no counterpart (`save`, wandb uploads, ...): manual when the receiver is a store."""

    receiver: str
    method: str
    site: str
    private: bool = False  # a save of a record built by hand to a file never named like an agent checkpoint


class FixtureOp(NamedTuple):
    param: str
    name: str
    module: str


class UnpackOp(NamedTuple):
    container: str
    index: int
    item: str


class SubscriptOp(NamedTuple):
    result: str
    container: str
    is_int: bool
    site: str
    index: int | None = None  # a literal non-negative index (`pair[0]`: a tuple's element when it is one)


class SetItemOp(NamedTuple):
    container: str
    index: str
    value: str
    site: str


class SetItemUnknownOp(NamedTuple):
    container: str
    reason: str
    site: str


Op = Union[ChildOp, CallOp, MethodCallOp, ProducerOp, StoreCallOp, FixtureOp, UnpackOp, SubscriptOp, SetItemOp,
           SetItemUnknownOp]


class Occurrence(NamedTuple):
    """How one occurrence of a name uses its value (for stores: a store goes when no use needs it)."""

    key: str
    how: str  # "recv" (a producer call's receiver), "arg", "assign", "other"
    detail: str = ""  # the Arg site, or the key assigned to


@dataclass
class Graph:
    """One module's contribution to the whole-tree value graph."""

    module: str
    unions: list[tuple[str, str]] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    sigs: dict[str, tuple[tuple[str, ...], bool]] = field(default_factory=dict)  # qualname -> params, bound
    fixtures: dict[str, str] = field(default_factory=dict)  # pytest fixture name -> qualname
    occurrences: list[Occurrence] = field(default_factory=list)
    fnrefs: set[str] = field(default_factory=set)  # functions used other than by a direct call
    bases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # class qualname -> base qualnames
    tests: set[str] = field(default_factory=set)  # functions pytest calls (tests and fixtures)
    places: dict[str, str] = field(default_factory=dict)  # site key -> the module it is in
    writes: list[str] = field(default_factory=list)  # sites of the trainer's save pairs (they write checkpoints)
