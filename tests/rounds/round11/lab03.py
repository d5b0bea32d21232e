"""Round 11 held-out mutants for lab03, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab03")

_IMPORT_OPENAI = ("from openai import OpenAI\n", "import openai\nfrom openai import OpenAI\n")
_CHECK = "        if self.expired():\n            raise DeadlineExceeded()\n"
_CHILD = "        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)"
_TIMEOUT_LINE = "        timeout = deadline.timeout(step_timeout)\n"
_WAIT_CHECK = "            if wait >= deadline.remaining():\n"
_WAIT_RAISE = """\
            if wait >= deadline.remaining():
                raise DeadlineExceeded(
                    f"a {wait:g} s wait before attempt {attempt + 1} would end after the "
                    f"deadline ({deadline.remaining():g} s left)"
                ) from error
"""
_CALL_MESSAGES = (
    "                client, run.messages, deadline=deadline, step_timeout=step_timeout,\n"
)
_CALL_REST = "                policy=policy, sleep=sleep, rng=rng, model=model,\n"
_TOKENS_CHECK = """\
                raise BudgetExceeded(
                    "max_llm_tokens", f"{run.llm_tokens} of {budget.max_llm_tokens} tokens used"
                )
"""
_BUDGET_BRANCH = """\
    except BudgetExceeded as exhausted:
        run.exhausted = exhausted.budget
        _fail(run, exhausted)
"""
_GENERIC_BRANCH = "    except Exception as error:\n        _fail(run, error)\n"
_TOOL_RESULTS = "            run.messages.extend(run_tool_calls(reply, tools.execute))\n"
_COUNT_TOKENS = "                run.llm_tokens += completion.usage.total_tokens\n"
_FAIL_DEF = "def _fail(run: AgentRun, error: Exception) -> None:\n"

MUTANTS: tuple[Mutant, ...] = (
    # -- lab03.run-deadline-stops-loop ---
    _m(
        "deadline-check-with-clock-skew-leeway",
        # what a Deadline does once it has passed (check() and so timeout() not raising) is
        # run-deadline-stops-loop's alone, as for check-raises-only-once-past-the-deadline;
        # expired() and remaining() are right, so every wait check is the solution's, and a
        # request that times out past the deadline still ends in DeadlineExceeded. Unlike that
        # mutant, it differs for a whole second after the deadline, not only at its instant
        {"lab03.run-deadline-stops-loop"},
        "brings the habit of PyJWT's `leeway` (and Kubernetes' clock-skew allowance) to the "
        "deadline: check() raises only once the clock is a second past it, 'so that two "
        "clocks a little apart do not fail a run that was on time'. A run whose deadline "
        "passes by more than a second (a long tool, a slow answer) stops exactly as before, "
        "and expired()/remaining() are right; but when a tool ends 0.4 s after the deadline "
        "(or exactly on it), the loop goes on and deadline.timeout() hands back 0, so a "
        "request goes out after the deadline with a zero timeout, and a model answering at "
        "once (latency 0) gets whole turns past the run's end",
        ("Sleep = Callable[[float], None]\n",
         "Sleep = Callable[[float], None]\n\n"
         "#: How far two clocks may disagree: a deadline is only missed once it is this far past.\n"
         "CLOCK_SKEW_LEEWAY = 1.0\n"),
        (_CHECK,
         "        if self.clock() - self.at >= CLOCK_SKEW_LEEWAY:  # as PyJWT's leeway\n"
         "            raise DeadlineExceeded()\n"),
    ),
    # -- lab03.deadline-exceeded-recorded (+ budget-enforced) ---
    _m(
        "except-clauses-in-the-wrong-order",
        # no budget is ever recorded as exhausted: the deadline's record (exhausted
        # max_wall_time) is deadline-exceeded-recorded's, max_steps' and max_llm_tokens'
        # (which budget ran out) budget-enforced's. State, error text and progress are the
        # solution's, and the generic failures are recorded exactly as before
        {"lab03.deadline-exceeded-recorded", "lab03.budget-enforced"},
        "writes the catch-all first, 'every failure ends the run failed', then adds the "
        "budget clause under it to fill in exhausted, not knowing that Python takes the "
        "first except clause that matches (a BudgetExceeded is an Exception). Every run "
        "ends failed with the right 'DeadlineExceeded: ...' or 'BudgetExceeded: ...' error "
        "and its progress kept, and a RetryError or a permanent error is recorded exactly "
        "as before; but exhausted stays None for every budget: a run out of time, out of "
        "steps or out of tokens never says which budget ran out",
        (_BUDGET_BRANCH + _GENERIC_BRANCH, _GENERIC_BRANCH + _BUDGET_BRANCH),
    ),
    # -- lab03.step-timeout-sent ---
    _m(
        "time-warning-added-to-the-request",
        # what each request carries besides its timeout (the run's messages) is
        # step-timeout-sent's, as for round 10's conversation-trimmed-to-a-window; the
        # fake's answers are scripted, so nothing else changes, and run.messages is intact
        {"lab03.step-timeout-sent"},
        "copies the budget warnings agent frameworks inject into the prompt (OpenHands' "
        "'you have N steps left', the notebook's 'the model should know it is running "
        "out'): when less than two step timeouts are left in the run, each request gets a "
        "last system message 'Only 40 s left: give your final answer now.'. run.messages "
        "keeps only the real conversation, and far from the deadline every request is "
        "exactly the run's messages; but every request sent in the last 2 x step_timeout "
        "of the run carries a message the conversation does not hold",
        (_CALL_MESSAGES,
         "                client, _with_time_warning(run.messages, deadline, step_timeout),\n"
         "                deadline=deadline, step_timeout=step_timeout,\n"),
        (_FAIL_DEF, """\
def _with_time_warning(
    messages: list[Message], deadline: Deadline, step_timeout: float
) -> list[Message]:
    \"\"\"The messages, and a warning for the model when the run's time is nearly up.\"\"\"
    left = deadline.remaining()
    if left >= 2 * step_timeout:
        return messages
    warning = {"role": "system", "content": f"Only {left:.0f} s left: give your final answer now."}
    return [*messages, warning]


""" + _FAIL_DEF),
    ),
    _m(
        "answer-capped-by-the-tokens-left",
        # the request's parameters besides its timeout are step-timeout-sent's (as for
        # model-not-passed-on and no-tools-offered); the fake's usage is scripted, so the
        # tokens counted, and every budget, are the solution's
        {"lab03.step-timeout-sent"},
        "'never let one answer overrun the token budget': when fewer than 4096 tokens of "
        "max_llm_tokens are left, run_agent passes max_tokens=<tokens left> to call_llm, "
        "which adds it to the request, as cost guards in LiteLLM-style proxies do. With the "
        "default 200 000-token budget and any run far from its token budget the requests "
        "are exactly as before; but a run with max_llm_tokens=1000 sends max_tokens=1000, "
        "then max_tokens=<what is left>, in every request, a parameter the contract's "
        "create(model, messages, tools, timeout) does not send",
        ("    tools: Sequence[dict[str, Any]] = TOOL_SCHEMAS,\n) -> ChatCompletion:\n",
         "    tools: Sequence[dict[str, Any]] = TOOL_SCHEMAS,\n"
         "    max_tokens: int | None = None,\n) -> ChatCompletion:\n"),
        ("                timeout=timeout,\n",
         "                timeout=timeout,\n"
         "                **({} if max_tokens is None else {\"max_tokens\": max_tokens}),\n"),
        (_CALL_REST,
         "                policy=policy, sleep=sleep, rng=rng, model=model,\n"
         "                max_tokens=_tokens_left(run),\n"),
        (_FAIL_DEF, """\
def _tokens_left(run: AgentRun, *, near: int = 4096) -> int | None:
    \"\"\"The tokens left in the run's budget when they are few, to cap the answer.\"\"\"
    left = run.budget.max_llm_tokens - run.llm_tokens
    return left if left < near else None


""" + _FAIL_DEF),
    ),
    # -- lab03.timeout-shrinks-to-budget ---
    _m(
        "turn-not-started-without-a-full-step-timeout",
        # the checks keep the contract's order (deadline, steps, tokens) and this one comes
        # last, so a run out of steps or tokens is recorded as before; no request goes out
        # after the deadline, and what is recorded is a DeadlineExceeded with the progress
        # made. What is lost is the request near the end whose timeout is the time left:
        # timeout-shrinks-to-budget. Waits inside call_llm are the solution's
        {"lab03.timeout-shrinks-to-budget"},
        "fails fast as gRPC clients do with a deadline too short to be useful: 'a turn that "
        "cannot get its full step timeout would be cut off anyway, so do not start it': "
        "before each request, with less than step_timeout left, the run ends with "
        "DeadlineExceeded. Every turn started with at least the step timeout left is as "
        "before (and a retry inside call_llm still gets the time left); but with 300 s "
        "wall time, 30 s step timeout and turns of 20 s, the turn that would start with "
        "20 s left, sent with timeout=20 and answered in time, is never sent: the run fails "
        "with time left, and no turn ever starts with a timeout shrunk to the time left",
        (_TOKENS_CHECK, _TOKENS_CHECK + """\
            if deadline.remaining() < step_timeout:  # it would be cut off anyway: fail fast
                raise DeadlineExceeded(
                    f"{deadline.remaining():g} s left, less than the {step_timeout:g} s step timeout"
                )
"""),
    ),
    # -- lab03.child-deadline-min ---
    _m(
        "child-of-a-passed-deadline-is-the-parent",
        # where a child's instant lies is child-deadline-min's; the parent is unchanged and
        # run_agent makes no child. Unlike child-negative-seconds-clamped, a child of a
        # deadline with time left is right for every seconds, negative ones included
        {"lab03.child-deadline-min"},
        "adds a fast path 'a done context's children are done too, so it can be its own "
        "child': when the parent has no time left, child() returns the parent itself. "
        "Every child of a deadline with time left is exactly right (negative seconds "
        "too), and a child of a passed deadline is itself passed; but child(-5) of a "
        "deadline that passed 1 s ago is the parent (1 s ago) instead of the earlier of "
        "the two, 5 s ago, so whoever reads the child's `at` gets the later instant",
        (_CHILD, "        if self.expired():  # a done deadline's children are done: itself\n"
                 "            return self\n" + _CHILD),
    ),
    # -- lab03.retry-respects-deadline ---
    _m(
        "wait-that-does-not-fit-becomes-an-immediate-retry",
        # the waits and what happens when one does not fit are retry-respects-deadline's; a
        # 503 and a timed-out request are handled alike, so nothing is timeout-specific, and
        # nothing is slept past the deadline
        {"lab03.retry-respects-deadline"},
        "'no time to wait is not a reason to give up while time is left': when the wait "
        "would not end before the deadline it is skipped, as the contract says, and the "
        "next attempt goes out at once with the time that is left, instead of failing "
        "with DeadlineExceeded. Every wait that fits is slept as before, and nothing is "
        "slept past the deadline; but a 429 asking for retry-after: 20 with 10 s left is "
        "retried at once (against the server's wish), and the call ends with the answer of "
        "that retry, or with RetryError once the attempts run out, instead of "
        "DeadlineExceeded at once with one request",
        (_WAIT_RAISE, """\
            if wait >= deadline.remaining():
                continue  # no time to wait: try once more at once with what is left
"""),
    ),
    _m(
        "attempt-time-taken-off-the-time-left-twice",
        # the length of the failed attempt is taken off the time left a second time, so a
        # wait that fits is not slept and the call fails early: how waits are judged
        # against the deadline is retry-respects-deadline's (as for round 2's
        # wait-must-leave-room-for-a-full-attempt). A 503 and a timed-out request that took
        # as long are treated alike, so nothing is timeout-specific
        {"lab03.retry-respects-deadline"},
        "'the failed attempt used part of the time left: take it off before comparing the "
        "wait', forgetting that remaining() reads the clock again and has already lost it: "
        "call_llm notes the clock when the request goes out and checks the wait against "
        "remaining() minus the time the attempt took. Failures that come back at once "
        "(the notebook's 500s, a 429) are judged exactly as before; but after a 502 that "
        "took 5 s, with 8 s left, the 4 s backoff that fits is compared with 3 s and the "
        "call fails with DeadlineExceeded, and after a request that hung for its 30 s "
        "timeout with 40 s left, a 1 s backoff is refused",
        (_TIMEOUT_LINE, _TIMEOUT_LINE + "        sent_at = deadline.clock()\n"),
        (_WAIT_CHECK,
         "            # the failed attempt used some of the time left\n"
         "            if wait >= deadline.remaining() - (deadline.clock() - sent_at):\n"),
    ),
    # -- lab03.llm-timeout-handled ---
    _m(
        "traceback-kept-as-the-error",
        # the record of a failure that is not a budget (a RetryError after timeouts, a
        # permanent error) is llm-timeout-handled's, as for round 4's
        # generic-failure-left-running and retry-error-recorded-as-its-last-error; every
        # budget is recorded as before
        {"lab03.llm-timeout-handled"},
        "keeps the traceback for whoever debugs the run, as Celery keeps "
        "AsyncResult.traceback and many job runners store traceback.format_exc(): a run "
        "ended by something other than a budget records run.error = the formatted "
        "traceback. The state is failed and exhausted None as before, and every budget "
        "failure is recorded as 'DeadlineExceeded: ...' or 'BudgetExceeded: ...'; but a "
        "run whose timed-out requests ran out of attempts records 'Traceback (most recent "
        "call last):\\n  File ...' with the RetryError only on its last line, where the "
        "contract says 'RetryError: <message>', and a 400 records its traceback too",
        ("import random\n", "import random\nimport traceback\n"),
        (_GENERIC_BRANCH, """\
    except Exception as error:
        _fail(run, error)
        run.error = traceback.format_exc()  # the whole story, for whoever debugs it
"""),
    ),
    _m(
        "run-catches-only-the-errors-it-expects",
        # "the run never raises: any other failure ends it failed" is the record of the
        # failures that are not budgets, llm-timeout-handled's (as for the kit's
        # only-budget-errors-caught); every budget, RetryError and OpenAI error is recorded
        # as before
        {"lab03.llm-timeout-handled"},
        "follows the linters' 'do not catch bare Exception' and catches what call_llm is "
        "known to raise: the retries' RetryError and the client's openai.APIError. Every "
        "budget, every RetryError (timeouts included) and every API status error (a 400, a "
        "401) ends the run failed as before; but a failure of another kind escapes "
        "run_agent and leaves the run 'running': a tool whose execute raises (run_tool_calls "
        "lets it propagate), or the TypeError the client raises for a message it cannot "
        "send, comes out as a traceback where the contract says the run never raises",
        _IMPORT_OPENAI,
        (_GENERIC_BRANCH,
         "    except (RetryError, openai.APIError) as error:  # what call_llm can raise\n"
         "        _fail(run, error)\n"),
    ),
    # -- lab03.budget-enforced ---
    _m(
        "last-steps-tool-calls-not-run",
        # max_steps is budget-enforced's: the run stops at the same turn, failed with
        # max_steps, but the last allowed turn's tool calls are never run and its tool
        # results are missing. When the deadline has also passed, the tools run and the
        # deadline is recorded first, as in the solution, so the deadline's record is
        # untouched
        {"lab03.budget-enforced"},
        "'there is no turn left to read the results, so do not run the tools': right "
        "after counting a turn that uses the last step and asks for tools, the run ends "
        "with BudgetExceeded('max_steps', ...) before running them (unless the deadline "
        "has passed, which the top of the loop reports first). A run that finishes within "
        "max_steps, and one whose last allowed turn is a final answer, are as before; but "
        "with max_steps=2 and a model that keeps calling tools, the second turn's "
        "clean_logs is never run (its side-effect counter stays at 0) and the conversation "
        "ends on an assistant message with no tool results, where the contract runs the "
        "tools and stops before the third request",
        (_TOOL_RESULTS, """\
            if run.steps >= budget.max_steps and not deadline.expired():
                # no turn left to read the results: do not run the tools
                raise BudgetExceeded("max_steps", f"{run.steps} of {budget.max_steps} steps used")
""" + _TOOL_RESULTS),
    ),
    _m(
        "cached-prompt-tokens-not-counted",
        # how tokens are counted is budget-enforced's; a response with no
        # prompt_tokens_details (the kit's fake) is counted as before, so only a server
        # reporting cached tokens (which a mocked OpenAI server can send) shows it
        {"lab03.budget-enforced"},
        "does the accounting of cost trackers, 'cached prompt tokens are (nearly) free': "
        "counts usage.total_tokens minus usage.prompt_tokens_details.cached_tokens. Every "
        "response without cache details (or with 0 cached) is counted exactly as before; "
        "but a server that reports 800 of a turn's 1000 prompt tokens as cached has that "
        "turn counted as 200 + its completion tokens, so llm_tokens falls short of the "
        "usage.total_tokens the contract counts and a run goes on past max_llm_tokens",
        (_COUNT_TOKENS, """\
                details = completion.usage.prompt_tokens_details
                cached = (details.cached_tokens or 0) if details is not None else 0
                run.llm_tokens += completion.usage.total_tokens - cached  # cached ones are free
"""),
    ),
)
