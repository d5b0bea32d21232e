"""Lab 05's mutants: the mistakes a student makes with reducers, steps and ephemeral keys."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_lab05 = mutants_of("lab05")

_HEAD = "head = [] if current is None else list(current) if isinstance(current, list) else [current]"
_TAIL = "return head + (list(new) if isinstance(new, list) else [new])"
_PARALLEL = """\
    calls = {name: partial(graph.nodes[name], copy.deepcopy(state)) for name in ran}
    patches = dict(run_in_parallel(calls))
"""
_SEQUENTIAL = """\
    patches = {}
    current = state
    for name in ran:
        patches[name] = graph.nodes[name](copy.deepcopy(current))
        current = schema.update(current, patches[name] or {})
"""
_EPHEMERAL_MARK = """\
        if ephemeral:
            self.ephemeral.add(key)
        else:
            self.ephemeral.discard(key)
"""
_KEY_LOOP = """\
            for key in patch:
                if key in self.reducers:
                    continue
"""
_NOT_A_PATCH = """\
            if not isinstance(patch, Mapping):
                raise InvalidUpdate(f"node {node!r} returned {type(patch).__name__}, not a patch")
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab05.overwrite-reducer
    _lab05(
        "overwrite-arguments-swapped",
        "lab05.overwrite-reducer",
        "takes the arguments the other way round: the current value wins",
        ("def overwrite(current: Any, new: Any) -> Any:\n"
         '    """The new value replaces the current one."""\n    return new',
         "def overwrite(current: Any, new: Any) -> Any:\n"
         '    """The new value replaces the current one."""\n    return current'),
    ),
    _lab05(
        "overwrite-skips-none",
        "lab05.overwrite-reducer",
        "'None means no change': a None written on purpose is dropped",
        ('    """The new value replaces the current one."""\n    return new',
         '    """The new value replaces the current one."""\n'
         "    return current if new is None else new"),
    ),
    # -- lab05.append-reducer
    _lab05(
        "append-in-place",
        "lab05.append-reducer",
        "extends the current list itself instead of building a new one",
        (_HEAD, "head = [] if current is None else current if isinstance(current, list) "
                "else [current]"),
        (_TAIL, "head.extend(new if isinstance(new, list) else [new])\n    return head"),
    ),
    _lab05(
        "append-nests-lists",
        "lab05.append-reducer",
        "always appends the new value as one item, so a list lands inside the list",
        (_TAIL, "return head + [new]"),
    ),
    _lab05(
        "append-keeps-none",
        "lab05.append-reducer",
        "treats a missing current value as an item: the result starts with None",
        (_HEAD, "head = list(current) if isinstance(current, list) else [current]"),
    ),
    # -- lab05.add-messages-upsert
    _lab05(
        "replacement-moved-to-the-end",
        "lab05.add-messages-upsert",
        "deletes the old message and appends the new one: an edit jumps to the end",
        ("        if key is not None and key in where:\n"
         "            result[where[key]] = message\n",
         "        if key is not None and key in where:\n"
         "            result[where[key]] = _GONE\n"
         "            where[key] = len(result)\n"
         "            result.append(message)\n"),
    ),
    _lab05(
        "ids-only-from-dicts",
        "lab05.add-messages-upsert",
        "reads message['id'] only: messages that are objects never match",
        ('key = message.get("id") if isinstance(message, Mapping) else getattr(message, "id", None)',
         'key = message.get("id") if isinstance(message, Mapping) else None'),
    ),
    _lab05(
        "unknown-removal-ignored",
        "lab05.add-messages-upsert",
        "quietly skips a RemoveMessage whose id is not there",
        ('raise InvalidUpdate(f"cannot remove message {message.id!r}: no such message")',
         "continue"),
    ),
    _lab05(
        "scans-for-every-message",
        "lab05.add-messages-upsert",
        "looks for each new message's id by walking the list: right, but quadratic",
        ("        if key is not None and key in where:\n"
         "            result[where[key]] = message\n",
         "        found = [i for i, m in enumerate(result)\n"
         "                 if m is not _GONE and key is not None and _message_id(m) == key]\n"
         "        if found:\n"
         "            result[found[0]] = message\n"),
    ),
    _lab05(
        "empty-id-is-an-id",
        "lab05.add-messages-upsert",
        "treats an empty id as a real one, so every id-less message overwrites the last",
        ('return key if key not in (None, "") else None', "return key"),
    ),
    # -- lab05.schema-update
    _lab05(
        "update-in-place",
        "lab05.schema-update",
        "writes the patch into the current state and returns it",
        ("        state = dict(current)\n        for key, value in patch.items():",
         "        state = current\n        for key, value in patch.items():"),
    ),
    _lab05(
        "reducers-never-looked-up",
        "lab05.schema-update",
        "stores every patched value as it is: the registered reducers never run",
        ("state[key] = value if reducer is None else reducer(state.get(key), value)",
         "state[key] = value"),
    ),
    _lab05(
        "ephemeral-forever",
        "lab05.schema-update",
        "marks a key ephemeral when asked, but never takes the mark back when the key is "
        "registered again",
        (_EPHEMERAL_MARK, "        if ephemeral:\n            self.ephemeral.add(key)\n"),
    ),
    # -- lab05.agent-state-patch
    _lab05(
        "plan-appended",
        "lab05.agent-state-patch",
        "gives the plan the append reducer: a new plan is added after the old one",
        ('.register("plan", overwrite)', '.register("plan", append)'),
    ),
    _lab05(
        "facts-appended",
        "lab05.agent-state-patch",
        "appends facts, so one key ends up with two values",
        ('.register("known_facts", upsert_by_key)', '.register("known_facts", append)'),
    ),
    _lab05(
        "risk-flags-repeat",
        "lab05.agent-state-patch",
        "appends risk flags without looking at what is already flagged",
        ('.register("risk_flags", unique)', '.register("risk_flags", append)'),
    ),
    # -- lab05.ephemeral-cleared
    _lab05(
        "cleared-before-routing",
        "lab05.ephemeral-cleared",
        "removes the ephemeral keys before the routers run, so routing never sees them",
        ("graph.successors(name, view)", "graph.successors(name, schema.cleanup(view))"),
    ),
    _lab05(
        "never-cleared",
        "lab05.ephemeral-cleared",
        "registers ephemeral keys but never removes them",
        ("state=schema.cleanup(view), view=view", "state=view, view=view"),
    ),
    # -- lab05.superstep-isolation
    _lab05(
        "writes-applied-at-once",
        "lab05.superstep-isolation",
        "runs the step's nodes one by one, each on the state the previous one left",
        (_PARALLEL, _SEQUENTIAL),
    ),
    _lab05(
        "one-state-for-all-nodes",
        "lab05.superstep-isolation",
        "hands every node the same state object: a node that changes it in place changes "
        "it for its siblings",
        ("partial(graph.nodes[name], copy.deepcopy(state))", "partial(graph.nodes[name], state)"),
    ),
    _lab05(
        "steps-numbered-from-0",
        "lab05.superstep-isolation",
        "counts the steps from 0, as Python counts",
        ("run_step(graph, schema, state, nodes, step=step)",
         "run_step(graph, schema, state, nodes, step=step - 1)"),
    ),
    _lab05(
        "max-steps-off-by-one",
        "lab05.superstep-isolation",
        "stops as soon as the count reaches max_steps: the last allowed step never runs",
        ("if step > max_steps:", "if step >= max_steps:"),
    ),
    # -- lab05.deterministic-merge
    _lab05(
        "merge-in-finish-order",
        "lab05.deterministic-merge",
        "applies the patches in the order the threads finished",
        ("        for node in sorted(patches):\n            state = self.update(",
         "        for node in patches:\n            state = self.update("),
    ),
    # -- lab05.conflict-detected
    _lab05(
        "last-write-wins",
        "lab05.conflict-detected",
        "langgraphgo's behaviour: the second write to a last-value key silently wins",
        ("                if key in written:\n", "                if False:\n"),
    ),
    _lab05(
        "reducer-patches-unchecked",
        "lab05.conflict-detected",
        "skips the conflict check for a whole patch once it writes a key with a reducer",
        (_KEY_LOOP, ("            if any(key in self.reducers for key in patch):\n"
                     "                continue\n            for key in patch:\n")),
    ),
    _lab05(
        "any-patch-accepted",
        "lab05.conflict-detected",
        "trusts every node to return a mapping or None: a list gets as far as update",
        (_NOT_A_PATCH, ""),
    ),
    # -- lab05.llm-node-messages
    _lab05(
        "reply-without-id",
        "lab05.llm-node-messages",
        "adds the model's reply without its completion id",
        ('said = {**assistant_message(reply), "id": completion.id}',
         "said = assistant_message(reply)"),
    ),
    _lab05(
        "returns-the-whole-history",
        "lab05.llm-node-messages",
        "returns the conversation so far plus the new messages: add_messages appends the "
        "id-less ones again",
        ('return {"messages": [said, *results]}',
         'return {"messages": [*state.get("messages", []), said, *results]}'),
    ),
    _lab05(
        "ids-sent-to-the-api",
        "lab05.llm-node-messages",
        "sends the state's messages as they are, ids and all",
        ('messages=for_the_api(state.get("messages", []))', 'messages=state.get("messages", [])'),
    ),
    _lab05(
        "agent-offers-no-tools",
        "lab05.llm-node-messages",
        "sends the conversation without the tools: the model is never told what it may call",
        ("            tools=list(TOOL_SCHEMAS),  # type: ignore[arg-type]\n", ""),
    ),
)
