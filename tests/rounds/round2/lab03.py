"""Round 2 held-out mutants for lab03, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab03")

_IMPORT_OPENAI = ("from openai import OpenAI\n", "import openai\nfrom openai import OpenAI\n")

_STEPS_CHECK = """\
            if run.steps >= budget.max_steps:
                raise BudgetExceeded("max_steps", f"{run.steps} of {budget.max_steps} steps used")
"""

_TOKENS_CHECK = """\
            if run.llm_tokens >= budget.max_llm_tokens:
                raise BudgetExceeded(
                    "max_llm_tokens", f"{run.llm_tokens} of {budget.max_llm_tokens} tokens used"
                )
"""

_COUNT_TURN = """\
            run.steps += 1
            if completion.usage is not None:
                run.llm_tokens += completion.usage.total_tokens
"""

_WAIT_CHECK = "            if wait >= deadline.remaining():\n"

_DEADLINE_RAISE = """\
            if wait >= deadline.remaining():
                raise DeadlineExceeded(
                    f"a {wait:g} s wait before attempt {attempt + 1} would end after the "
                    f"deadline ({deadline.remaining():g} s left)"
                ) from error
"""

_BUDGET_BRANCH = """\
    except BudgetExceeded as exhausted:
        run.exhausted = exhausted.budget
        _fail(run, exhausted)
"""

_TOOL_RESULTS = "            run.messages.extend(run_tool_calls(reply, tools.execute))\n"

MUTANTS: tuple[Mutant, ...] = (
    # -- lab03.run-deadline-stops-loop
    _m(
        "call-llm-trusts-the-loop-deadline-check",
        # declared with lab03.deadline-exceeded-recorded too; judged run-deadline-stops-loop
        # alone: no deadline was detected, so no deadline error to record (as for
        # no-deadline-anywhere; README, "One mistake, one item")
        {"lab03.run-deadline-stops-loop"},
        "'run_agent already checks the deadline at the top of every turn, so call_llm only "
        "needs the number': it works the timeout out inline as min(step timeout, time left) "
        "instead of through deadline.timeout(), which would raise. Inside run_agent nothing "
        "changes, but call_llm called on its own with a deadline that has passed still sends "
        "a request (with a zero timeout), and returns its answer if one comes at once, "
        "instead of raising DeadlineExceeded without sending anything",
        ("        timeout = deadline.timeout(step_timeout)\n",
         "        timeout = min(step_timeout, deadline.remaining())  # run_agent checks the deadline\n"),
    ),
    # -- lab03.deadline-exceeded-recorded
    _m(
        "step-limit-as-the-loop-condition",
        {"lab03.deadline-exceeded-recorded"},
        "writes the loop like the seed's `for i := 0; i < maxIterations; i++` with the "
        "deadline select inside: `while run.steps < max_steps`, check the deadline, ... and "
        "max_steps raised after the loop. The contract's order (the deadline first) is lost: "
        "when the deadline passes during the turn that also uses the last step (a slow tool "
        "after it), the run records max_steps instead of failing with DeadlineExceeded",
        ("""\
        while True:
            deadline.check()
""" + _STEPS_CHECK, """\
        while run.steps < budget.max_steps:
            deadline.check()
"""),
        (_TOOL_RESULTS, _TOOL_RESULTS
         + '        raise BudgetExceeded("max_steps", f"{run.steps} of {budget.max_steps} steps used")\n'),
    ),
    _m(
        "deadline-from-call-llm-not-recorded-as-exhausted",
        {"lab03.deadline-exceeded-recorded"},
        "records the exhausted budget right where the loop checks its budgets, and treats "
        "whatever call_llm raises as an LLM failure in the generic branch: a deadline noticed "
        "at the top of a turn is recorded as max_wall_time, but one that runs out inside "
        "call_llm (a request that times out at the deadline, a backoff wait that does not "
        "fit) ends the run failed with DeadlineExceeded and exhausted left None",
        (_BUDGET_BRANCH, ""),
        ("""\
            deadline.check()
""" + _STEPS_CHECK + _TOKENS_CHECK, """\
            try:
                deadline.check()
                if run.steps >= budget.max_steps:
                    raise BudgetExceeded(
                        "max_steps", f"{run.steps} of {budget.max_steps} steps used"
                    )
                if run.llm_tokens >= budget.max_llm_tokens:
                    raise BudgetExceeded(
                        "max_llm_tokens", f"{run.llm_tokens} of {budget.max_llm_tokens} tokens used"
                    )
            except BudgetExceeded as exhausted:  # the budgets this loop checks
                run.exhausted = exhausted.budget
                _fail(run, exhausted)
                return run
"""),
    ),
    # -- lab03.step-timeout-sent
    _m(
        "step-timeout-set-on-the-client-in-run-agent",
        {"lab03.step-timeout-sent", "lab03.timeout-shrinks-to-budget"},
        "sets the step timeout once on the client in run_agent "
        "(client.with_options(timeout=step_timeout)) and has call_llm pass timeout= only when "
        "the deadline makes it shorter than the step timeout. Every request of run_agent is "
        "right, but call_llm called on its own with time to spare sends its requests with the "
        "client's default 600 s, more than the step timeout and than the time left",
        ("""\
                tools=list(tools),  # type: ignore[arg-type]
                timeout=timeout,
""", """\
                tools=list(tools),  # type: ignore[arg-type]
                **({"timeout": timeout} if timeout < step_timeout else {}),
"""),
        ("    budget = run.budget\n",
         "    budget = run.budget\n    client = client.with_options(timeout=step_timeout)\n"),
    ),
    # -- lab03.timeout-shrinks-to-budget
    _m(
        "timeout-floored-at-one-second",
        {"lab03.timeout-shrinks-to-budget"},
        "'a request given a few milliseconds cannot succeed, give it at least a second (still "
        "no more than the step timeout)': with less than a second left in the run the request "
        "is allowed a full second, more than the time left, and can end after the deadline",
        ("Sleep = Callable[[float], None]\n",
         "Sleep = Callable[[float], None]\n\n#: Less than this and a request cannot succeed.\n"
         "MIN_REQUEST_TIMEOUT = 1.0\n"),
        ("        return min(step_timeout, self.remaining())",
         "        return min(step_timeout, max(self.remaining(), MIN_REQUEST_TIMEOUT))"),
    ),
    _m(
        "timeout-computed-before-the-backoff-sleep",
        {"lab03.timeout-shrinks-to-budget"},
        "works out the first attempt's timeout before the loop and each next attempt's "
        "timeout while handling the failure, then sleeps the backoff: the retry's timeout is "
        "the time left before the wait, so near the end of the run a retried request is "
        "allowed up to one backoff wait more than the time left when it is sent",
        ("    for attempt in range(1, policy.max_attempts + 1):\n"
         "        timeout = deadline.timeout(step_timeout)\n",
         "    timeout = deadline.timeout(step_timeout)\n"
         "    for attempt in range(1, policy.max_attempts + 1):\n"),
        ("            sleep(wait)\n",
         "            timeout = deadline.timeout(step_timeout)  # the next attempt's\n"
         "            sleep(wait)\n"),
    ),
    # -- lab03.child-deadline-min
    _m(
        "child-of-zero-seconds-is-the-parent",
        {"lab03.child-deadline-min"},
        "treats 0 as 'no time limit of its own', as many timeout parameters do: child(0) "
        "returns the parent's deadline instead of a deadline now (Go's "
        "WithTimeout(ctx, 0) is done at once). A part of the work given no time gets all of "
        "the parent's",
        ("        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)",
         "        if not seconds:  # no time of its own: it runs on the parent's deadline\n"
         "            return self\n"
         "        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)"),
    ),
    # -- lab03.retry-respects-deadline
    _m(
        "wait-that-does-not-fit-raises-retry-error",
        {"lab03.retry-respects-deadline"},
        "'no time for more attempts means the retries gave up': when the wait would not end "
        "before the deadline it does not sleep (right) but raises lab 01's RetryError, so "
        "the run fails with RetryError and no exhausted budget instead of DeadlineExceeded",
        (_DEADLINE_RAISE, """\
            if wait >= deadline.remaining():
                raise RetryError(attempt, error) from error  # no time for more attempts
"""),
    ),
    _m(
        "wait-must-leave-room-for-a-full-attempt",
        {"lab03.retry-respects-deadline"},
        "'a wait is worth it only if the next attempt then still gets its full step timeout': "
        "gives up with DeadlineExceeded when wait + step timeout would pass the deadline, so "
        "a wait that fits and an attempt that would have had less than the step timeout (but "
        "enough) are never made; the run fails early with time left",
        (_WAIT_CHECK, "            if wait + step_timeout > deadline.remaining():\n"),
    ),
    # -- lab03.llm-timeout-handled
    _m(
        "timed-out-request-retried-only-with-a-full-step-timeout",
        {"lab03.llm-timeout-handled"},
        "'it just timed out with the full step timeout, a shorter one will surely time out "
        "too': after an APITimeoutError (only) it retries only if the next attempt would get "
        "the whole step timeout, else raises DeadlineExceeded at once. A 503 in the same "
        "place is retried while time remains; a timeout near the end is not",
        _IMPORT_OPENAI,
        (_WAIT_CHECK, """\
            if isinstance(error, openai.APITimeoutError) \\
                    and deadline.remaining() - wait < step_timeout:
                raise DeadlineExceeded(
                    f"a retry after a timeout would get less than {step_timeout:g} s"
                ) from error
""" + _WAIT_CHECK),
    ),
    _m(
        "timeout-retries-exhausted-reported-as-deadline",
        {"lab03.llm-timeout-handled"},
        "'a model that keeps timing out is the run's time running out': a RetryError whose "
        "last failure was an APITimeoutError is recorded as DeadlineExceeded with exhausted "
        "max_wall_time, even when the attempts ran out with most of the run's time left "
        "(a RetryError must leave exhausted None); the same with 503s is a RetryError",
        _IMPORT_OPENAI,
        ("    except Exception as error:\n        _fail(run, error)\n", """\
    except RetryError as gave_up:
        if isinstance(gave_up.last_error, openai.APITimeoutError):
            run.exhausted = "max_wall_time"
            _fail(run, DeadlineExceeded(f"the model timed out {gave_up.attempts} times"))
        else:
            _fail(run, gave_up)
    except Exception as error:
        _fail(run, error)
"""),
    ),
    # -- lab03.budget-enforced
    _m(
        "token-budget-checked-before-steps",
        {"lab03.budget-enforced"},
        "checks the token budget before the step budget ('tokens cost money, check them "
        "first'): when the turn that uses the last step also reaches max_llm_tokens, the run "
        "records max_llm_tokens although max_steps comes first in the contract's order",
        (_STEPS_CHECK + _TOKENS_CHECK, _TOKENS_CHECK + _STEPS_CHECK),
    ),
    _m(
        "budgets-counted-from-this-call",
        {"lab03.budget-enforced"},
        "counts the turns and tokens of this call in locals and checks the budget against "
        "those, keeping run.steps and run.llm_tokens only as the record: a fresh run is "
        "right, but a run handed in with steps or tokens already spent (resumed) gets its "
        "whole budget again",
        ("    budget = run.budget\n", "    budget = run.budget\n    steps_taken = tokens_spent = 0\n"),
        ("if run.steps >= budget.max_steps:", "if steps_taken >= budget.max_steps:"),
        ("if run.llm_tokens >= budget.max_llm_tokens:", "if tokens_spent >= budget.max_llm_tokens:"),
        (_COUNT_TURN, """\
            run.steps += 1
            steps_taken += 1
            if completion.usage is not None:
                run.llm_tokens += completion.usage.total_tokens
                tokens_spent += completion.usage.total_tokens
"""),
    ),
    _m(
        "steps-counted-per-tool-call",
        {"lab03.budget-enforced"},
        "'a step is one action of the agent': counts each tool call of a reply as a step "
        "(a final answer as one). Right while the model asks for one tool a turn; a turn "
        "with parallel tool calls uses several steps, and the run stops at max_steps long "
        "before max_steps LLM turns",
        ("            run.steps += 1\n",
         "            run.steps += max(1, len(completion.choices[0].message.tool_calls or ()))\n"),
    ),
)
