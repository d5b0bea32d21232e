"""Round 3 held-out mutants for lab03, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab03")

_IMPORT_OPENAI = ("from openai import OpenAI\n", "import openai\nfrom openai import OpenAI\n")

_LOOP_TOP = """\
        while True:
            deadline.check()
            if run.steps >= budget.max_steps:
                raise BudgetExceeded("max_steps", f"{run.steps} of {budget.max_steps} steps used")
            if run.llm_tokens >= budget.max_llm_tokens:
                raise BudgetExceeded(
                    "max_llm_tokens", f"{run.llm_tokens} of {budget.max_llm_tokens} tokens used"
                )
"""

_TOOL_RESULTS = "            run.messages.extend(run_tool_calls(reply, tools.execute))\n"

_WAIT_CHECK = "            if wait >= deadline.remaining():\n"

MUTANTS: tuple[Mutant, ...] = (
    # -- lab03.run-deadline-stops-loop
    _m(
        "wrap-up-request-after-the-deadline",
        {"lab03.run-deadline-stops-loop"},
        "copies LangChain's AgentExecutor with early_stopping_method='generate' ('call the "
        "LLM one final time to generate a final answer based on the previous steps'), so "
        "that a user whose run ran out of time still hears something: when the deadline "
        "passes, the run is recorded failed with DeadlineExceeded as it should be, and then "
        "one more request (the step timeout, the client's retries off) asks the model for a "
        "summary, kept as run.result. No other budget does it; every run that ends on its "
        "deadline sends one request after it",
        ("""\
    except BudgetExceeded as exhausted:
        run.exhausted = exhausted.budget
        _fail(run, exhausted)
""", """\
    except BudgetExceeded as exhausted:
        run.exhausted = exhausted.budget
        _fail(run, exhausted)
        if isinstance(exhausted, DeadlineExceeded):  # the user still gets an answer
            run.result = _wrap_up(client, run, step_timeout, model)
"""),
        ("""\
def _fail(run: AgentRun, error: Exception) -> None:
""", """\
def _wrap_up(client: OpenAI, run: AgentRun, step_timeout: float, model: str) -> str | None:
    \"\"\"One last request: what the run got done before its time ran out.\"\"\"
    ask = {"role": "user", "content": "Time is up. Summarise what you have done so far."}
    try:
        completion = client.with_options(max_retries=0).chat.completions.create(
            model=model, messages=[*run.messages, ask], timeout=step_timeout,
        )
    except Exception:  # noqa: BLE001 - the summary is a courtesy
        return None
    return completion.choices[0].message.content


def _fail(run: AgentRun, error: Exception) -> None:
"""),
    ),
    # -- lab03.deadline-exceeded-recorded
    _m(
        "loop-deadline-raised-as-plain-budget-error",
        {"lab03.deadline-exceeded-recorded"},
        "writes the three checks at the top of the turn the same way, 'one budget, one "
        "BudgetExceeded': the wall-time one raises BudgetExceeded(\"max_wall_time\", ...) "
        "like the steps and tokens ones. run.exhausted still says max_wall_time, but a "
        "deadline noticed at the top of a turn (a tool that ran past it, an answer that came "
        "exactly at it) ends the run with a plain 'BudgetExceeded: ...', not the distinct "
        "DeadlineExceeded; one that runs out inside call_llm is still a DeadlineExceeded",
        ("""\
        while True:
            deadline.check()
""", """\
        while True:
            if deadline.expired():
                raise BudgetExceeded(
                    "max_wall_time", f"{budget.max_wall_time:g} s of wall time used"
                )
"""),
    ),
    _m(
        "tokens-written-back-only-on-completion",
        {"lab03.deadline-exceeded-recorded", "lab03.budget-enforced"},
        "adds the turns' tokens up in a local and writes the total back to the run when it "
        "completes ('one write at the end'), forgetting the failure paths: a run that ends "
        "failed (the deadline, max_steps, max_llm_tokens) keeps the llm_tokens it started "
        "with instead of the tokens it spent, though its token budget was checked right",
        ("    budget = run.budget\n", "    budget = run.budget\n    spent = run.llm_tokens\n"),
        ("if run.llm_tokens >= budget.max_llm_tokens:", "if spent >= budget.max_llm_tokens:"),
        ('f"{run.llm_tokens} of {budget.max_llm_tokens} tokens used"',
         'f"{spent} of {budget.max_llm_tokens} tokens used"'),
        ("                run.llm_tokens += completion.usage.total_tokens\n",
         "                spent += completion.usage.total_tokens\n"),
        ("""\
                run.state, run.result = TaskState.COMPLETED, reply.content or ""
""", """\
                run.llm_tokens = spent
                run.state, run.result = TaskState.COMPLETED, reply.content or ""
"""),
    ),
    # -- lab03.step-timeout-sent
    _m(
        "tools-argument-ignored",
        {"lab03.step-timeout-sent"},
        "keeps call_llm's `tools` parameter because the signature must stay, but sends the "
        "kit's TOOL_SCHEMAS it imported at the top: run_agent (which never passes tools) is "
        "right, but call_llm given tools of its own offers the model the default ones",
        ("                tools=list(tools),  # type: ignore[arg-type]\n",
         "                tools=list(TOOL_SCHEMAS),  # type: ignore[arg-type]\n"),
    ),
    # -- lab03.timeout-shrinks-to-budget
    _m(
        "only-the-read-timeout-shrinks",
        {"lab03.timeout-shrinks-to-budget"},
        "'the read is where a slow model eats the time' (and the notebook's request log "
        "shows only the read timeout): sends httpx.Timeout(step_timeout, read=timeout), so "
        "connect, write and pool keep the full step timeout. Far from the deadline all four "
        "are the step timeout, as they should be; near it only the read shrinks to the time "
        "left and the other three still allow more than is left",
        ("from openai import OpenAI\n", "import httpx\nfrom openai import OpenAI\n"),
        ("                timeout=timeout,\n",
         "                timeout=httpx.Timeout(step_timeout, read=timeout),\n"),
    ),
    # -- lab03.child-deadline-min
    _m(
        "child-from-the-clamped-time-left",
        {"lab03.child-deadline-min"},
        "builds the child from durations with the methods already written: "
        "Deadline.after(min(seconds, self.remaining())). While the parent has time left "
        "this is exactly the earlier of the two; once the parent has passed, remaining() is "
        "clamped to 0 and the child's deadline is now, later than its parent's instead of "
        "the parent's own",
        ("        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)",
         "        return Deadline.after(min(seconds, self.remaining()), clock=self.clock)"),
    ),
    # -- lab03.retry-respects-deadline
    _m(
        "server-delay-checked-before-the-cap",
        {"lab03.retry-respects-deadline"},
        "'if the server says it will not be ready before our deadline, give up now': "
        "compares the delay the server asked for, before the cap, with the time left, and "
        "sleeps the capped wait. When the server asks for more than max_delay, a capped wait "
        "that would end well before the deadline is not slept: the call fails with "
        "DeadlineExceeded though the retry fitted",
        (_WAIT_CHECK,
         "            if (wait if requested is None else requested) >= deadline.remaining():\n"),
    ),
    _m(
        "deadline-checked-against-the-unjittered-backoff",
        {"lab03.retry-respects-deadline"},
        "'a jittered wait is random, so decide on the longest it could be': compares the "
        "backoff without jitter (the cap of the draw) with the time left, then sleeps the "
        "jittered wait. Without jitter nothing changes; with jitter, a drawn wait that "
        "would end before the deadline is not slept whenever the full backoff would not, "
        "and the call fails with DeadlineExceeded early",
        ("import random\n", "import dataclasses\nimport random\n"),
        (_WAIT_CHECK, """\
            longest = (
                backoff_delay(attempt - 1, dataclasses.replace(policy, jitter=False))
                if requested is None
                else wait
            )
            if longest >= deadline.remaining():
"""),
    ),
    _m(
        "sleep-not-passed-on",
        {"lab03.retry-respects-deadline"},
        "passes the deadline, the step timeout, the policy, the rng and the model on to "
        "call_llm and forgets `sleep`: call_llm's default time.sleep makes every backoff "
        "wait of run_agent, not the sleep the caller handed in, so on the caller's clock "
        "the waits take no time and the retries go out back to back",
        ("                policy=policy, sleep=sleep, rng=rng, model=model,\n",
         "                policy=policy, rng=rng, model=model,\n"),
    ),
    # -- lab03.llm-timeout-handled
    _m(
        "timeouts-not-counted-as-attempts",
        {"lab03.llm-timeout-handled"},
        "'a timeout costs time, not an attempt, and the deadline already bounds the time': "
        "only failures with an answer (a 5xx, a 429) use up max_attempts and move the "
        "backoff on. A 503 is retried max_attempts times and then RetryError; a request that "
        "keeps timing out is retried past max_attempts, always after the first wait, until "
        "the deadline",
        _IMPORT_OPENAI,
        ("    for attempt in range(1, policy.max_attempts + 1):\n",
         "    attempt = 1\n    while True:\n"),
        ("            sleep(wait)\n", """\
            sleep(wait)
            if not isinstance(error, openai.APITimeoutError):  # a timeout costs time only
                attempt += 1
"""),
    ),
    # -- lab03.budget-enforced
    _m(
        "budgets-checked-only-between-turns",
        {"lab03.budget-enforced"},
        "'a run starts with its budget unspent, so check it after each turn, for the next "
        "one': moves the checks from the top of the loop to after the tool results. Every "
        "turn after the first is checked as before (and call_llm still refuses to start "
        "after the deadline), but a run handed in with its steps or tokens already used up "
        "(resumed, or max_steps=0) still sends its first request",
        (_LOOP_TOP, """\
        while True:
"""),
        (_TOOL_RESULTS, _TOOL_RESULTS + _LOOP_TOP.replace("        while True:\n", "")),
    ),
    _m(
        "step-limit-ends-the-run-completed",
        {"lab03.budget-enforced"},
        "copies LangChain's AgentExecutor (early_stopping_method='force'), whose iteration "
        "limit returns 'Agent stopped due to iteration limit or time limit.' as the output: "
        "out of steps, the run is recorded as max_steps but ends completed with that text as "
        "its result instead of failed",
        ("""\
            if run.steps >= budget.max_steps:
                raise BudgetExceeded("max_steps", f"{run.steps} of {budget.max_steps} steps used")
""", """\
            if run.steps >= budget.max_steps:  # out of steps: stop and say so, as LangChain
                run.exhausted = "max_steps"
                run.state = TaskState.COMPLETED
                run.result = "Agent stopped due to iteration limit or time limit."
                return run
"""),
    ),
)
